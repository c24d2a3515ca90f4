use std::collections::BTreeMap;
use std::sync::Mutex;

use dropflow_contract::ports::{
    ConditionalPutError, ObjectHead, ObjectStore, Precondition, StoredObject,
};
use dropflow_contract::{ServiceResult, layout};
use serde_json::{Map, json};

use super::*;

/// Key → (bytes, etag), and the last etag number given.
type Objects = (BTreeMap<String, (Vec<u8>, String)>, u64);

/// A bucket in memory: conditional writes applied atomically, a new etag per write.
#[derive(Default)]
struct MemoryBucket(Mutex<Objects>);

impl MemoryBucket {
    fn json(&self, key: &str) -> Option<serde_json::Value> {
        let bucket = self.0.lock().unwrap();
        bucket
            .0
            .get(key)
            .map(|(b, _)| serde_json::from_slice(b).unwrap())
    }
}

impl ObjectStore for MemoryBucket {
    async fn get(&self, key: &str, _version: Option<&str>) -> ServiceResult<Option<StoredObject>> {
        tokio::task::yield_now().await;
        let bucket = self.0.lock().unwrap();
        Ok(bucket.0.get(key).map(|(bytes, etag)| StoredObject {
            bytes: bytes.clone(),
            metadata: BTreeMap::new(),
            version_id: None,
            etag: Some(etag.clone()),
        }))
    }

    async fn head(&self, key: &str) -> ServiceResult<Option<ObjectHead>> {
        let bucket = self.0.lock().unwrap();
        Ok(bucket.0.get(key).map(|(bytes, _)| ObjectHead {
            size: bytes.len() as u64,
            version_id: None,
        }))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> ServiceResult<()> {
        let mut bucket = self.0.lock().unwrap();
        bucket.1 += 1;
        let etag = format!("\"{}\"", bucket.1);
        bucket.0.insert(key.to_string(), (bytes, etag));
        Ok(())
    }

    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
        precondition: &Precondition,
    ) -> Result<String, ConditionalPutError> {
        tokio::task::yield_now().await;
        let mut bucket = self.0.lock().unwrap();
        let current = bucket.0.get(key).map(|(_, etag)| etag.clone());
        let holds = match precondition {
            Precondition::Absent => current.is_none(),
            Precondition::Matches(etag) => current.as_deref() == Some(etag.as_str()),
        };
        if !holds {
            return Err(ConditionalPutError::PreconditionFailed { key: key.into() });
        }
        bucket.1 += 1;
        let etag = format!("\"{}\"", bucket.1);
        bucket.0.insert(key.to_string(), (bytes, etag.clone()));
        Ok(etag)
    }

    async fn delete(&self, key: &str) -> ServiceResult<()> {
        self.0.lock().unwrap().0.remove(key);
        Ok(())
    }
}

fn arrival(id: &str, name: &str) -> Arrival {
    Arrival {
        id: id.into(),
        event: MetaflowEvent {
            name: name.into(),
            payload: Map::new(),
        },
    }
}

#[tokio::test]
async fn the_pending_record_is_written_only_if_unchanged_since_read() {
    let bucket = MemoryBucket::default();
    let store = BucketPending(&bucket);
    assert_eq!(store.load("Flow").await.unwrap(), None);

    let mut first = Pending::default();
    first.arrived.insert("a".into(), arrival("1", "a"));
    assert!(store.store("Flow", &first, None).await.unwrap());
    // A second creator lost the race.
    assert!(
        !store
            .store("Flow", &Pending::default(), None)
            .await
            .unwrap()
    );

    let (read, etag) = store.load("Flow").await.unwrap().unwrap();
    assert_eq!(read, first);
    assert!(
        store
            .store("Flow", &Pending::default(), Some(&etag))
            .await
            .unwrap()
    );
    // The tag read before that write is stale now.
    assert!(!store.store("Flow", &first, Some(&etag)).await.unwrap());
    assert_eq!(
        bucket.json(&layout::pending_events_key("Flow")),
        Some(json!({"arrived": {}, "consumed": []}))
    );
}

#[tokio::test]
async fn rejections_are_kept_per_flow_under_the_execution_they_would_have_started() {
    let bucket = MemoryBucket::default();
    let rejection = Rejection {
        state_machine: "Flow".into(),
        execution_name: "ev-1".into(),
        events: vec![RejectedEvent {
            id: "1".into(),
            name: "e".into(),
        }],
        reason: "alpha: expected an integer".into(),
    };
    BucketRejections(&bucket).record(&rejection).await.unwrap();
    let stored = bucket.json("events/rejected/Flow/ev-1.json").unwrap();
    assert_eq!(
        serde_json::from_value::<Rejection>(stored).unwrap(),
        rejection
    );
}

#[tokio::test]
async fn a_run_is_claimed_once_and_the_loser_reads_the_winners_record() {
    let bucket = MemoryBucket::default();
    let run = |at| TriggeredRun {
        state_machine: "Flow".into(),
        execution_name: "ev-1".into(),
        claimed_at_ms: at,
        events: vec![arrival("1", "e")],
    };
    assert_eq!(claim_run(&bucket, &run(1)).await.unwrap(), Claim::Won);
    assert_eq!(
        claim_run(&bucket, &run(2)).await.unwrap(),
        Claim::Taken(run(1))
    );
    assert_eq!(
        triggered_run(&bucket, "Flow", "ev-1").await.unwrap(),
        Some(run(1))
    );
    assert_eq!(triggered_run(&bucket, "Flow", "ev-2").await.unwrap(), None);
}

#[test]
fn answers_read_back_as_written() {
    let answer = EventAnswer {
        name: "e".into(),
        id: "1".into(),
        flows: vec![
            FlowDelivery {
                flow: "F".into(),
                state_machine: "F".into(),
                run_id: Some("sfn-ev-1".into()),
                delivery: Delivered::Started {
                    execution_name: "ev-1".into(),
                },
            },
            FlowDelivery {
                flow: "G".into(),
                state_machine: "G".into(),
                run_id: None,
                delivery: Delivered::Waiting {
                    missing: vec!["b".into()],
                },
            },
        ],
    };
    let text = serde_json::to_value(&answer).unwrap();
    assert_eq!(text["flows"][0]["delivery"]["outcome"], "started");
    assert_eq!(text["flows"][1]["delivery"]["missing"], json!(["b"]));
    assert_eq!(serde_json::from_value::<EventAnswer>(text).unwrap(), answer);
}
