//! `junit.xml`: one test case per case run, failures carrying the checks that failed, for CI
//! systems that show JUnit results.

use std::fmt::Write;

use crate::html::escape;
use crate::report::Report;

pub fn render(report: &Report) -> String {
    let failures = report.cases.iter().filter(|c| !c.passed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = escape(&report.suite.name);
    let seconds = report.duration_ms / 1e3;
    let _ = writeln!(
        out,
        "<testsuites name=\"tact eval\" tests=\"{}\" failures=\"{failures}\" time=\"{seconds:.3}\">",
        report.cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{seconds:.3}\">",
        report.cases.len()
    );
    for case in &report.cases {
        let classname = match case.tags.first() {
            Some(tag) => format!("{name}.{}", escape(tag)),
            None => name.clone(),
        };
        let id = if report.suite.repeat > 1 {
            format!("{} #{}", case.id, case.repeat + 1)
        } else {
            case.id.clone()
        };
        let _ = write!(
            out,
            "    <testcase classname=\"{classname}\" name=\"{}\" time=\"{:.3}\"",
            escape(&id),
            case.latency.total_ms / 1e3
        );
        if case.passed {
            out.push_str("/>\n");
            continue;
        }
        let failed: Vec<_> = case.checks.iter().filter(|c| !c.passed).collect();
        let message = failed
            .iter()
            .map(|c| c.check.key())
            .collect::<Vec<_>>()
            .join(", ");
        let mut body = String::new();
        for c in &failed {
            let _ = writeln!(body, "{}: {}", c.check, c.detail);
        }
        if let Some(draft) = &case.draft {
            let _ = writeln!(body, "draft: {}", draft.text);
        }
        let _ = write!(
            out,
            ">\n      <failure message=\"failed: {}\" type=\"eval\">{}</failure>\n    </testcase>\n",
            escape(&message),
            escape(&body)
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
