//! Placeholder until the renderers land (same signatures).
use super::report::TriageReport;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Markdown,
    Slack,
    Pagerduty,
}

impl ReportFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "markdown" => Some(Self::Markdown),
            "slack" => Some(Self::Slack),
            "pagerduty" => Some(Self::Pagerduty),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Markdown => "markdown",
            Self::Slack => "slack",
            Self::Pagerduty => "pagerduty",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Markdown => "text/markdown; charset=utf-8",
            Self::Slack => "application/json",
            Self::Pagerduty => "text/plain; charset=utf-8",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("render")]
pub struct RenderError;

pub fn render(r: &TriageReport, _f: ReportFormat) -> Result<String, RenderError> {
    Ok(format!("{}\n", r.report_hash))
}
