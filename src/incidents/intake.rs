//! The intake match of an alert (spec triage §7.6): which incident a newly received alert
//! belongs to, decided once when it is stored (`alerts.matched_incident_id`).

use std::collections::{HashMap, HashSet};

use datafusion::prelude::SessionContext;

use super::alert_match::{FnLookup, intake_match as rule};
use super::engine::story_family;
use super::model::Incident;
use crate::ingest::alert_intake::AlertMatch;
use crate::ingest::signals::Signal;

/// The intake match of §7.6, the one place alerts are matched at intake: step 1 against all
/// incidents, steps 2-3 against the active ones (newest evidence first), through the §7.4 rule
/// the engine also uses for attachment ([`crate::incidents::alert_match`]). Stories of alert
/// trace ids are read first because the rule itself is synchronous.
pub async fn intake_match(
    ctx: &SessionContext,
    alerts: &[Signal],
    active: &[Incident],
    ids: &HashSet<String>,
    amw_ns: i64,
) -> Vec<AlertMatch> {
    let mut stories = HashMap::new();
    for r in alerts {
        let t = &r.meta.trace_id;
        if !t.is_empty() && !stories.contains_key(t) {
            stories.insert(t.clone(), story_family(ctx, t).await);
        }
    }
    let lookup = FnLookup {
        exists: |id: &str| ids.contains(id),
        story: |t: &str| stories.get(t).cloned().flatten(),
    };
    alerts
        .iter()
        .map(|r| match rule(r, active, amw_ns, &lookup) {
            (Some(id), strategy) => AlertMatch {
                matched: true,
                incident_id: Some(id),
                strategy: strategy.as_str(),
            },
            (None, _) => AlertMatch::none(),
        })
        .collect()
}
