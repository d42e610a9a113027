//! Streams between the keyspace's form and the RDB codec's model, both ways. A loaded
//! stream whose groups contradict themselves (a pending entry owned by no consumer or by an
//! unknown one, a consumer's entry missing from its group's list) is refused whole.

use std::collections::BTreeMap;

use bytes::Bytes;
use sluice_rdb::{StreamConsumer, StreamEntry, StreamGroup, StreamPending, StreamValue};

use crate::store::stream::{Consumer, ConsumerGroup, PendingEntry, Stream, StreamId};

fn id_from(id: sluice_rdb::StreamId) -> StreamId {
    StreamId::new(id.ms, id.seq)
}

fn id_to(id: StreamId) -> sluice_rdb::StreamId {
    sluice_rdb::StreamId {
        ms: id.ms,
        seq: id.seq,
    }
}

/// What makes a loaded stream unusable, for the load error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamModelError {
    #[error("entry {0} repeats or is out of order")]
    DuplicateEntry(String),
    #[error("entry {0} is above the last ID")]
    EntryAboveLastId(String),
    #[error("group {group}: pending entry {id} has no owner")]
    Unowned { group: String, id: String },
    #[error("group {group}: pending entry {id} is claimed twice or unknown to the group")]
    BadOwnership { group: String, id: String },
    #[error("group {0} repeats")]
    DuplicateGroup(String),
}

/// The keyspace's stream for a loaded one.
pub fn from_rdb(value: StreamValue) -> Result<Stream, StreamModelError> {
    let last_id = id_from(value.last_id);
    let mut stream = Stream::default();
    stream.last_id = last_id;
    stream.max_deleted_entry_id = id_from(value.max_deleted_entry_id);
    stream.entries_added = value.entries_added;
    for StreamEntry { id, fields } in value.entries {
        let id = id_from(id);
        if id > last_id {
            return Err(StreamModelError::EntryAboveLastId(id.to_string()));
        }
        let flat: Vec<Bytes> = fields.into_iter().flat_map(|(f, v)| [f, v]).collect();
        if !stream.insert_loaded(id, &flat) {
            return Err(StreamModelError::DuplicateEntry(id.to_string()));
        }
    }
    for group in value.groups {
        let name = String::from_utf8_lossy(&group.name).into_owned();
        let mut owners: BTreeMap<StreamId, Option<Bytes>> = group
            .pending
            .iter()
            .map(|p| (id_from(p.id), None))
            .collect();
        let mut consumers = BTreeMap::new();
        for consumer in group.consumers {
            let mut pending = std::collections::BTreeSet::new();
            for id in consumer.pending {
                let id = id_from(id);
                match owners.get_mut(&id) {
                    Some(slot @ None) => *slot = Some(consumer.name.clone()),
                    _ => {
                        return Err(StreamModelError::BadOwnership {
                            group: name,
                            id: id.to_string(),
                        });
                    }
                }
                pending.insert(id);
            }
            consumers.insert(
                consumer.name,
                Consumer {
                    seen_time_ms: consumer.seen_time_ms,
                    active_time_ms: consumer.active_time_ms,
                    pending,
                },
            );
        }
        let mut pel = BTreeMap::new();
        for entry in group.pending {
            let id = id_from(entry.id);
            let Some(Some(owner)) = owners.remove(&id) else {
                return Err(StreamModelError::Unowned {
                    group: name,
                    id: id.to_string(),
                });
            };
            pel.insert(
                id,
                PendingEntry {
                    delivery_time_ms: entry.delivery_time_ms,
                    delivery_count: entry.delivery_count,
                    consumer: owner,
                },
            );
        }
        let group_value = ConsumerGroup {
            last_delivered_id: id_from(group.last_delivered_id),
            entries_read: group.entries_read,
            pel,
            consumers,
        };
        if stream.groups.insert(group.name, group_value).is_some() {
            return Err(StreamModelError::DuplicateGroup(name));
        }
    }
    Ok(stream)
}

/// The RDB model of a keyspace stream, for the encoder.
pub fn to_rdb(stream: &Stream) -> StreamValue {
    StreamValue {
        entries: stream
            .iter()
            .map(|(id, fields)| StreamEntry {
                id: id_to(id),
                fields: fields
                    .chunks_exact(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect(),
            })
            .collect(),
        length: stream.len() as u64,
        last_id: id_to(stream.last_id),
        first_id: id_to(stream.first_id()),
        max_deleted_entry_id: id_to(stream.max_deleted_entry_id),
        entries_added: stream.entries_added,
        groups: stream
            .groups
            .iter()
            .map(|(name, group)| StreamGroup {
                name: name.clone(),
                last_delivered_id: id_to(group.last_delivered_id),
                entries_read: group.entries_read,
                pending: group
                    .pel
                    .iter()
                    .map(|(id, p)| StreamPending {
                        id: id_to(*id),
                        delivery_time_ms: p.delivery_time_ms,
                        delivery_count: p.delivery_count,
                    })
                    .collect(),
                consumers: group
                    .consumers
                    .iter()
                    .map(|(name, c)| StreamConsumer {
                        name: name.clone(),
                        seen_time_ms: c.seen_time_ms,
                        active_time_ms: c.active_time_ms,
                        pending: c.pending.iter().map(|id| id_to(*id)).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Stream {
        let mut s = Stream::default();
        for i in 1..=3 {
            s.append(
                StreamId::new(i, 0),
                &[Bytes::from_static(b"f"), Bytes::from(i.to_string())],
                Default::default(),
            );
        }
        s.remove(StreamId::new(2, 0));
        let mut group = ConsumerGroup {
            last_delivered_id: StreamId::new(3, 0),
            entries_read: Some(3),
            ..ConsumerGroup::default()
        };
        group.pel.insert(
            StreamId::new(1, 0),
            PendingEntry {
                delivery_time_ms: 5,
                delivery_count: 2,
                consumer: Bytes::from_static(b"c1"),
            },
        );
        group.consumers.insert(
            Bytes::from_static(b"c1"),
            Consumer {
                seen_time_ms: 7,
                active_time_ms: Some(6),
                pending: [StreamId::new(1, 0)].into_iter().collect(),
            },
        );
        s.groups.insert(Bytes::from_static(b"g"), group);
        s
    }

    #[test]
    fn a_stream_survives_the_round_trip() {
        let s = sample();
        let back = from_rdb(to_rdb(&s)).expect("a valid model");
        assert_eq!(back.len(), 2);
        assert_eq!(back.last_id, s.last_id);
        assert_eq!(back.max_deleted_entry_id, StreamId::new(2, 0));
        assert_eq!(back.entries_added, 3);
        assert_eq!(back.groups, s.groups);
        assert_eq!(
            back.iter()
                .map(|(id, f)| (id, f.to_vec()))
                .collect::<Vec<_>>(),
            s.iter().map(|(id, f)| (id, f.to_vec())).collect::<Vec<_>>()
        );
    }

    #[test]
    fn contradictory_groups_are_refused() {
        let mut model = to_rdb(&sample());
        model.groups[0].consumers[0].pending.clear();
        assert!(matches!(
            from_rdb(model),
            Err(StreamModelError::Unowned { .. })
        ));
        let mut model = to_rdb(&sample());
        let extra = model.groups[0].consumers[0].pending[0];
        model.groups[0].consumers[0].pending.push(extra);
        assert!(matches!(
            from_rdb(model),
            Err(StreamModelError::BadOwnership { .. })
        ));
    }
}
