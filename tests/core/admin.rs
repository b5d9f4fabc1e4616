//! The admin API shows operators what the knowledge base holds and what is broken.

use std::time::Duration;

use crate::support::TestApp;

#[tokio::test]
async fn the_knowledge_status_lists_documents_chunks_and_broken_files() {
    let kb = tempfile::tempdir().unwrap();
    std::fs::write(kb.path().join("hours.md"), "---\ntitle: Hours\n---\n# Hours\n\nOpen 9 to 5.\n").unwrap();
    std::fs::write(kb.path().join("broken.md"), "---\ntitle: [oops\n---\n# Broken\n").unwrap();
    let kb_dir = kb.path().to_path_buf();
    let app = TestApp::spawn_with(move |config| config.knowledge_dir = kb_dir).await;

    let url = format!("{}/api/v1/admin/knowledge", app.base_url);
    let mut status = serde_json::Value::Null;
    for _ in 0..50 {
        status = app.http.get(&url).send().await.unwrap().json().await.unwrap();
        if status["last_indexed"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["documents"], 1, "{status}");
    assert_eq!(status["chunks"], 1, "{status}");
    assert_eq!(status["errors"][0]["file"], "broken.md", "{status}");
    assert_eq!(status["errors"][0]["line"], 2, "{status}");
}
