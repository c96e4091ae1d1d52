//! GetShipment reads, coalesced: concurrent calls hand their key to one reader, which looks
//! up everything that has queued meanwhile in one query. Every answer still comes straight
//! from the database (nothing is cached, so replicas never disagree), but under load one
//! round trip to the database serves many calls instead of one each.

use std::{collections::HashMap, sync::Arc};

use acx_runtime::Database;
use tokio::sync::{mpsc, oneshot};

use crate::store::{self, DeclarationRow};

/// Most keys looked up in one query.
const MAX_BATCH: usize = 64;

type Key = (String, String);
type Answer = Result<Option<DeclarationRow>, Arc<sqlx::Error>>;

struct Lookup {
    key: Key,
    answer: oneshot::Sender<Answer>,
}

/// Hands lookups to the batching task; cheap to clone.
#[derive(Debug, Clone)]
pub struct ShipmentReader {
    queue: mpsc::Sender<Lookup>,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lookup(..)")
    }
}

/// Why a lookup has no answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The query failed.
    #[error(transparent)]
    Database(#[from] Arc<sqlx::Error>),
    /// The batching task is gone (the server is stopping).
    #[error("the shipment reader stopped")]
    Stopped,
}

impl ShipmentReader {
    /// Starts the batching task over `database`.
    pub fn start(database: Database) -> Self {
        let (queue, mut receiver) = mpsc::channel::<Lookup>(16 * MAX_BATCH);
        tokio::spawn(async move {
            // One lookup query at a time: the calls that arrive while it runs make up the
            // next batch (measured: more queries in flight only made batches smaller).
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                answer(&database, batch).await;
            }
        });
        Self { queue }
    }

    /// The declaration `declaration_id` of `authority`, if it exists.
    pub async fn get(
        &self,
        authority: &str,
        declaration_id: &str,
    ) -> Result<Option<DeclarationRow>, ReadError> {
        let (answer, answered) = oneshot::channel();
        let key = (authority.to_owned(), declaration_id.to_owned());
        self.queue
            .send(Lookup { key, answer })
            .await
            .map_err(|_| ReadError::Stopped)?;
        answered
            .await
            .map_err(|_| ReadError::Stopped)?
            .map_err(ReadError::from)
    }
}

/// Looks up a batch in one query and answers each lookup.
async fn answer(database: &Database, batch: Vec<Lookup>) {
    // Two calls may ask for the same shipment in one batch: both wait on one key.
    let mut waiting: HashMap<Key, Vec<oneshot::Sender<Answer>>> = HashMap::new();
    for lookup in batch {
        waiting.entry(lookup.key).or_default().push(lookup.answer);
    }
    let keys: Vec<Key> = waiting.keys().cloned().collect();
    match store::get_many(database, &keys).await {
        Ok(rows) => {
            for row in rows {
                let key = (row.authority.clone(), row.declaration_id.clone());
                let Some(mut senders) = waiting.remove(&key) else {
                    continue; // another authority's declaration with a requested id
                };
                let last = senders.pop();
                for sender in senders {
                    let _ = sender.send(Ok(Some(row.clone())));
                }
                if let Some(sender) = last {
                    let _ = sender.send(Ok(Some(row)));
                }
            }
            for sender in waiting.into_values().flatten() {
                let _ = sender.send(Ok(None));
            }
        }
        Err(error) => {
            let error = Arc::new(error);
            for sender in waiting.into_values().flatten() {
                let _ = sender.send(Err(error.clone()));
            }
        }
    }
}
