//! Segment counting and fitting on the texts a support desk sends most.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use textdesk::sms::segments::{count, fit};

fn texts() -> (String, String, String, String) {
    let short = "Your order #1042 has shipped. Reply STOP to opt out.".to_owned();
    // 480 characters of GSM-7 with extension characters sprinkled in (4 × 120).
    let long_gsm = "Prices in € [incl. VAT] {ex. shipping} ~ call us | or text ^ for help. "
        .repeat(7)
        .chars()
        .take(480)
        .collect::<String>();
    let emoji =
        "Thanks! 😀 Your 👨\u{200D}👩\u{200D}👧\u{200D}👦 plan ships to 🇺🇸 soon 👍🏽. ".repeat(6);
    let paragraph = "Visit https://example.com/returns to start a return. \
                     Returns take 5-7 days, e.g. 3.5 days on average. \
                     Refunds go back to the card you paid with. "
        .repeat(6);
    (short, long_gsm, emoji, paragraph)
}

fn bench(c: &mut Criterion) {
    let (short, long_gsm, emoji, paragraph) = texts();
    assert_eq!(long_gsm.chars().count(), 480);
    c.bench_function("count/short_gsm", |b| b.iter(|| count(black_box(&short))));
    c.bench_function("count/gsm_480_with_extension", |b| {
        b.iter(|| count(black_box(&long_gsm)))
    });
    c.bench_function("count/ucs2_emoji", |b| b.iter(|| count(black_box(&emoji))));
    c.bench_function("fit/long_text_to_2_segments", |b| {
        b.iter(|| fit(black_box(&paragraph), 2))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
