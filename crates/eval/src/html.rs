//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external
//! resources) that a team reads after a run: the gate, pass rates per check and per guideline
//! clause, the similarity histogram, the latency distribution, what changed against the
//! baseline, and each failing case with its draft, its reference and the violations marked.

use std::fmt::Write;

use crate::report::{CaseChange, Distribution, Rate, Report};
use crate::runner::CaseResult;

const STYLE: &str = "
body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f5f2;color:#1d1d1b}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{margin:0 0 4px;font-size:26px}h2{margin:32px 0 8px;font-size:19px}
.meta{color:#5b5b57;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:150px;box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:24px}
.pass{color:#17703a}.fail{color:#b3261e}
.gate{padding:12px 16px;border-radius:8px;margin:12px 0;font-weight:600}
.gate.pass{background:#e3f4e8}.gate.fail{background:#fbe4e2}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:8px;overflow:hidden;box-shadow:0 1px 2px #0002}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eee;vertical-align:top;font-size:14px}
th{background:#efede8}
.bar{background:#eee;border-radius:4px;height:10px;width:160px;display:inline-block;vertical-align:middle}
.bar i{display:block;height:10px;border-radius:4px;background:#3f7d4f}
.bar.low i{background:#c2574a}
.case{background:#fff;border-radius:8px;padding:12px 16px;margin:12px 0;box-shadow:0 1px 2px #0002;border-left:4px solid #b3261e}
.case h3{margin:0 0 6px;font-size:16px}
.text{white-space:pre-wrap;background:#faf9f6;border:1px solid #e8e6e0;border-radius:6px;padding:8px 10px;margin:4px 0 8px}
mark{background:#ffd6d1;border-bottom:2px solid #b3261e;padding:0 1px}
.label{font-size:12px;color:#5b5b57;text-transform:uppercase;letter-spacing:.04em}
ul.checks{margin:4px 0;padding-left:18px}
svg{background:#fff;border-radius:8px;box-shadow:0 1px 2px #0002}
.row{display:flex;gap:16px;flex-wrap:wrap}
";

/// Escapes text for HTML and XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

pub fn render(report: &Report) -> String {
    let mut h = String::new();
    let s = &report.summary;
    let info = &report.suite;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>tact eval: {}</title><style>{STYLE}</style></head><body><main>",
        escape(&info.name)
    );
    let _ = write!(
        h,
        "<h1>tact eval: {}</h1><div class=\"meta\">{} · brand {} · model {} · judge: {} · \
         temperature {} · seed {} · {} candidate(s) · max {} tokens · scoring the {} draft{}</div>",
        escape(&info.name),
        escape(&info.description),
        escape(&info.brand),
        escape(&info.model),
        escape(&info.judge),
        info.sampling.temperature,
        info.sampling.seed,
        info.sampling.candidates,
        info.sampling.max_new_tokens,
        match info.scoring.draft {
            crate::suite::DraftChoice::Top => "top-ranked",
            crate::suite::DraftChoice::Generated => "best generated",
        },
        if info.repeat > 1 {
            format!(" · {} repeats", info.repeat)
        } else {
            String::new()
        }
    );
    gate(&mut h, report);
    let _ = write!(
        h,
        "<div class=\"cards\">{}{}{}{}{}</div>",
        card("pass rate", &percent(s.pass_rate), rate_class(s.pass_rate)),
        card("runs passed", &format!("{} / {}", s.passed, s.runs), ""),
        card(
            "similarity (mean)",
            &format!("{:.2}", s.similarity.mean),
            ""
        ),
        card("draft time p50", &format!("{:.0} ms", s.total_ms.p50), ""),
        card(
            "recall@k · MRR",
            &match (s.recall_at_k, s.mrr) {
                (Some(r), Some(m)) => format!("{r:.2} · {m:.2}"),
                _ => "n/a".into(),
            },
            ""
        ),
    );

    h.push_str(
        "<h2>Pass rate per check</h2><table><tr><th>check</th><th>passed</th><th>rate</th></tr>",
    );
    for (check, rate) in &s.checks {
        rate_row(&mut h, check.key(), rate);
    }
    h.push_str("</table>");

    h.push_str("<h2>Pass rate per guideline clause</h2><table><tr><th>clause</th><th>drafts without a violation</th><th>rate</th></tr>");
    for (clause, rate) in &s.clauses {
        rate_row(&mut h, clause, rate);
    }
    h.push_str("</table>");
    if !s.judge_clauses.is_empty() {
        h.push_str("<h2>Rubric judge per clause</h2><table><tr><th>clause</th><th>yes</th><th>rate</th></tr>");
        for (clause, rate) in &s.judge_clauses {
            rate_row(&mut h, clause, rate);
        }
        h.push_str("</table>");
    }

    h.push_str("<div class=\"row\"><div><h2>Similarity to the reference</h2>");
    histogram(&mut h, &s.similarity, "similarity", |v| format!("{v:.1}"));
    h.push_str("</div><div><h2>Latency (whole draft)</h2>");
    histogram(&mut h, &s.total_ms, "ms", |v| format!("{v:.0}"));
    let _ = write!(
        h,
        "<div class=\"meta\">total: p50 {:.0} ms · p90 {:.0} ms · max {:.0} ms<br>\
         first token: p50 {:.0} ms · p90 {:.0} ms · max {:.0} ms (queueing included)</div></div></div>",
        s.total_ms.p50, s.total_ms.p90, s.total_ms.max, s.ttft_ms.p50, s.ttft_ms.p90, s.ttft_ms.max
    );
    if let Some(v) = &s.variance {
        let _ = write!(
            h,
            "<h2>Sampling variance ({} repeats)</h2><p>{} flaky case(s){}; mean similarity \
             standard deviation {:.3}</p>",
            v.repeats,
            v.flaky.len(),
            if v.flaky.is_empty() {
                String::new()
            } else {
                format!(": {}", escape(&v.flaky.join(", ")))
            },
            v.similarity_stddev
        );
    }
    baseline(&mut h, report);

    let failing: Vec<&CaseResult> = report.cases.iter().filter(|c| !c.passed).collect();
    let _ = write!(h, "<h2>Failing cases ({})</h2>", failing.len());
    for case in failing {
        failing_case(&mut h, case);
    }
    h.push_str("<h2>All cases</h2><details><summary>show</summary><table><tr><th>case</th><th>result</th><th>checks</th></tr>");
    for case in &report.cases {
        let checks: Vec<String> = case
            .checks
            .iter()
            .map(|c| {
                format!(
                    "<span class=\"{}\">{}</span>",
                    if c.passed { "pass" } else { "fail" },
                    c.check
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            escape(&case.id),
            if case.passed { "pass" } else { "fail" },
            if case.passed { "pass" } else { "fail" },
            checks.join(" · ")
        );
    }
    h.push_str("</table></details></main></body></html>\n");
    h
}

fn gate(h: &mut String, report: &Report) {
    if report.gate.passed {
        h.push_str("<div class=\"gate pass\">Gate passed</div>");
    } else {
        let _ = write!(
            h,
            "<div class=\"gate fail\">Gate failed<ul>{}</ul></div>",
            report
                .gate
                .reasons
                .iter()
                .map(|r| format!("<li>{}</li>", escape(r)))
                .collect::<String>()
        );
    }
}

fn card(label: &str, value: &str, class: &str) -> String {
    format!(
        "<div class=\"card\"><span class=\"label\">{}</span><b class=\"{class}\">{}</b></div>",
        escape(label),
        escape(value)
    )
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

fn rate_class(rate: f64) -> &'static str {
    if rate >= 0.8 { "pass" } else { "fail" }
}

fn rate_row(h: &mut String, name: &str, rate: &Rate) {
    let _ = write!(
        h,
        "<tr><td>{}</td><td>{} / {}</td><td><span class=\"bar{}\"><i style=\"width:{:.0}%\"></i></span> {}</td></tr>",
        escape(name),
        rate.passed,
        rate.total,
        if rate.rate < 0.8 { " low" } else { "" },
        rate.rate * 100.0,
        percent(rate.rate)
    );
}

/// An inline SVG bar chart of a distribution's bins.
fn histogram(h: &mut String, d: &Distribution, unit: &str, edge: impl Fn(f64) -> String) {
    if d.count == 0 {
        h.push_str("<p class=\"meta\">no values</p>");
        return;
    }
    let (width, height, pad) = (480.0, 200.0, 28.0);
    let highest = d.bins.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bar = (width - 2.0 * pad) / d.bins.len() as f64;
    let _ = write!(
        h,
        "<svg width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"histogram of {unit}\">"
    );
    for (i, count) in d.bins.iter().enumerate() {
        let bh = (height - 2.0 * pad) * *count as f64 / highest;
        let x = pad + bar * i as f64;
        let y = height - pad - bh;
        let _ = write!(
            h,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#3f7d4f\">\
             <title>{}–{}: {count}</title></rect>",
            bar - 2.0,
            edge(d.edges[i]),
            edge(d.edges[i + 1])
        );
        if *count > 0 {
            let _ = write!(
                h,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{count}</text>",
                x + bar / 2.0 - 1.0,
                y - 3.0
            );
        }
    }
    for i in [0, d.bins.len() / 2, d.bins.len()] {
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#5b5b57\">{}</text>",
            pad + bar * i as f64,
            height - 8.0,
            edge(d.edges[i])
        );
    }
    let _ = write!(
        h,
        "</svg><div class=\"meta\">{} value(s) · mean {} · p50 {} · p90 {} ({unit})</div>",
        d.count,
        edge(d.mean),
        edge(d.p50),
        edge(d.p90)
    );
}

fn baseline(h: &mut String, report: &Report) {
    let Some(c) = &report.baseline else {
        return;
    };
    let _ = write!(
        h,
        "<h2>Against the baseline</h2><p class=\"meta\">{} · pass rate {} → {} ({:+.1} points) · \
         {} improved · {} regressed · {} unchanged{}{}</p>",
        escape(&c.path),
        percent(c.baseline_pass_rate),
        percent(report.summary.pass_rate),
        c.pass_rate_change * 100.0,
        c.improved.len(),
        c.regressed.len(),
        c.unchanged,
        if c.new_cases.is_empty() {
            String::new()
        } else {
            format!(" · new: {}", escape(&c.new_cases.join(", ")))
        },
        if c.missing_cases.is_empty() {
            String::new()
        } else {
            format!(" · not run: {}", escape(&c.missing_cases.join(", ")))
        }
    );
    let table = |h: &mut String, title: &str, class: &str, rows: &[CaseChange]| {
        if rows.is_empty() {
            return;
        }
        let _ = write!(
            h,
            "<h3 class=\"{class}\">{title} ({})</h3><table><tr><th>case</th><th>was → now</th>\
             <th>checks now failing</th><th>checks now passing</th><th>similarity change</th></tr>",
            rows.len()
        );
        for r in rows {
            let list = |checks: &[crate::score::CheckName]| {
                checks
                    .iter()
                    .map(|c| c.key())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{} → {}</td><td class=\"fail\">{}</td><td class=\"pass\">{}</td><td>{}</td></tr>",
                escape(&r.id),
                if r.was_passing { "pass" } else { "fail" },
                if r.passing { "pass" } else { "fail" },
                list(&r.checks_regressed),
                list(&r.checks_improved),
                r.similarity_change
                    .map(|d| format!("{d:+.3}"))
                    .unwrap_or_default()
            );
        }
        h.push_str("</table>");
    };
    table(h, "Regressed", "fail", &c.regressed);
    table(h, "Improved", "pass", &c.improved);
}

fn failing_case(h: &mut String, case: &CaseResult) {
    let _ = write!(
        h,
        "<div class=\"case\" id=\"case-{}\"><h3>{}{}</h3><div class=\"meta\">{} · triage: {} / {} / {} / {}{}</div>",
        escape(&case.id),
        escape(&case.id),
        if case.repeat > 0 {
            format!(" (repeat {})", case.repeat + 1)
        } else {
            String::new()
        },
        escape(&case.channel),
        escape(&case.triage.sentiment),
        escape(&case.triage.intent),
        escape(&case.triage.urgency),
        escape(&case.triage.language),
        if case.escalated {
            format!(
                " · escalated ({})",
                escape(&case.escalation_topics.join(", "))
            )
        } else {
            String::new()
        }
    );
    let _ = write!(
        h,
        "<div class=\"label\">message</div><div class=\"text\">{}</div>",
        escape(&case.message)
    );
    match &case.draft {
        Some(draft) => {
            let excerpts: Vec<&str> = draft
                .violations
                .iter()
                .map(|v| v.excerpt.as_str())
                .collect();
            let _ = write!(
                h,
                "<div class=\"label\">draft ({})</div><div class=\"text\">{}</div>",
                escape(&draft.origin),
                highlight(&draft.text, &excerpts)
            );
        }
        None => h.push_str(
            "<div class=\"label\">draft</div><div class=\"text\">(none: routed to a person)</div>",
        ),
    }
    if let Some(reference) = &case.reference {
        let _ = write!(
            h,
            "<div class=\"label\">reference{}</div><div class=\"text\">{}</div>",
            case.similarity
                .map(|s| format!(" (similarity {s:.2})"))
                .unwrap_or_default(),
            escape(reference)
        );
    }
    h.push_str("<ul class=\"checks\">");
    for c in case.checks.iter().filter(|c| !c.passed) {
        let _ = write!(
            h,
            "<li><b class=\"fail\">{}</b>: {}</li>",
            c.check,
            escape(&c.detail)
        );
    }
    if let Some(draft) = &case.draft {
        for v in &draft.violations {
            let _ = write!(
                h,
                "<li>{} {} <span class=\"meta\">({})</span>: {}</li>",
                escape(v.severity.key()),
                escape(&v.rule),
                escape(&v.clause),
                escape(&v.message)
            );
        }
    }
    h.push_str("</ul></div>");
}

/// `text`, escaped, with every occurrence of each excerpt wrapped in `<mark>`.
fn highlight(text: &str, excerpts: &[&str]) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for excerpt in excerpts.iter().filter(|e| !e.trim().is_empty()) {
        ranges.extend(text.match_indices(excerpt).map(|(i, m)| (i, i + m.len())));
    }
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let mut out = String::new();
    let mut at = 0;
    for (start, end) in merged {
        out.push_str(&escape(&text[at..start]));
        let _ = write!(out, "<mark>{}</mark>", escape(&text[start..end]));
        at = end;
    }
    out.push_str(&escape(&text[at..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_marked_and_text_is_escaped() {
        let html = highlight(
            "Sorry <3 -- UNFORTUNATELY late!!",
            &["UNFORTUNATELY", "!!", "late"],
        );
        assert_eq!(
            html,
            "Sorry &lt;3 -- <mark>UNFORTUNATELY</mark> <mark>late!!</mark>"
        );
    }
}
