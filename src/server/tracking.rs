//! Client-side caching (CLIENT TRACKING), as Redis 7.0's `tracking.c`: which clients may
//! hold which keys (default mode: the keys their read-only commands read), which prefixes
//! broadcasting clients follow, and which keys changed under those prefixes since the last
//! broadcast. Pure bookkeeping: what to tell whom comes out as [`Invalidation`]s, which
//! `State` delivers.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;

/// One client's tracking options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTracking {
    /// Client id the invalidations go to instead (0: none).
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) for the next command.
    pub caching: bool,
    pub broken_redirect: bool,
    /// BCAST prefixes, sorted as Redis lists them.
    pub prefixes: BTreeSet<Bytes>,
}

/// Keys changed under one prefix since the last broadcast, each with the client that
/// changed it last (NOLOOP clients are not told of their own changes).
#[derive(Debug, Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    changed: BTreeMap<Bytes, Option<u64>>,
}

/// What one client is told: these keys changed, or (`None`) every key did (a flush).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalidation {
    pub client: u64,
    pub keys: Option<Vec<Bytes>>,
}

#[derive(Debug, Default)]
pub struct Tracking {
    pub clients: HashMap<u64, ClientTracking>,
    /// key -> clients that may hold it (default mode).
    table: HashMap<Bytes, BTreeSet<u64>>,
    /// Sum over the table of its clients (INFO `tracking_total_items`).
    items: usize,
    prefixes: BTreeMap<Bytes, Prefix>,
}

impl Tracking {
    /// Whether any client tracks: the test every write makes before anything else.
    #[inline]
    pub fn active(&self) -> bool {
        !self.clients.is_empty()
    }

    pub fn of(&self, client: u64) -> Option<&ClientTracking> {
        self.clients.get(&client)
    }

    pub fn of_mut(&mut self, client: u64) -> Option<&mut ClientTracking> {
        self.clients.get_mut(&client)
    }

    /// CLIENT TRACKING ON with checked options; BCAST prefixes add to the client's.
    pub fn enable(&mut self, client: u64, options: ClientTracking, prefixes: &[Bytes]) {
        let entry = self.clients.entry(client).or_default();
        let kept_prefixes = std::mem::take(&mut entry.prefixes);
        *entry = ClientTracking {
            prefixes: kept_prefixes,
            ..options
        };
        if entry.bcast {
            let wanted: Vec<Bytes> = if prefixes.is_empty() {
                vec![Bytes::new()]
            } else {
                prefixes.to_vec()
            };
            for prefix in wanted {
                entry.prefixes.insert(prefix.clone());
                self.prefixes
                    .entry(prefix)
                    .or_default()
                    .clients
                    .insert(client);
            }
        }
    }

    /// CLIENT TRACKING OFF, RESET or a disconnect. The client's entries in the key table
    /// go lazily, as in Redis.
    pub fn disable(&mut self, client: u64) {
        let Some(state) = self.clients.remove(&client) else {
            return;
        };
        for prefix in state.prefixes {
            if let Some(p) = self.prefixes.get_mut(&prefix) {
                p.clients.remove(&client);
                if p.clients.is_empty() {
                    self.prefixes.remove(&prefix);
                }
            }
        }
    }

    /// Whether a prefix overlaps one of `client`'s, or another of `prefixes`: the error
    /// text Redis gives, if any.
    pub fn prefix_collision(&self, client: u64, prefixes: &[Bytes]) -> Option<String> {
        let overlap = |a: &[u8], b: &[u8]| {
            let n = a.len().min(b.len());
            a[..n] == b[..n]
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        for (i, prefix) in prefixes.iter().enumerate() {
            if let Some(state) = self.clients.get(&client) {
                for existing in &state.prefixes {
                    if overlap(existing, prefix) {
                        return Some(format!(
                            "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                            text(prefix),
                            text(existing)
                        ));
                    }
                }
            }
            for other in &prefixes[i + 1..] {
                if overlap(prefix, other) {
                    return Some(format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        text(prefix),
                        text(other)
                    ));
                }
            }
        }
        None
    }

    /// After a read-only command of `client`: it may now cache `keys`, unless its
    /// OPTIN/OPTOUT mode and CLIENT CACHING say otherwise.
    pub fn remember(&mut self, client: u64, keys: impl IntoIterator<Item = Bytes>) {
        let Some(state) = self.clients.get(&client) else {
            return;
        };
        if state.bcast || (state.optin && !state.caching) || (state.optout && state.caching) {
            return;
        }
        for key in keys {
            if self.table.entry(key).or_default().insert(client) {
                self.items += 1;
            }
        }
    }

    /// Ends the effect of CLIENT CACHING: it covers the one command after it.
    pub fn command_done(&mut self, client: u64) {
        if let Some(state) = self.clients.get_mut(&client) {
            state.caching = false;
        }
    }

    /// `key` changed, by `by` (None: expiry or eviction): records it for the broadcasts
    /// and returns whom to tell now in default mode (the key is forgotten for them).
    pub fn invalidate(&mut self, key: &[u8], by: Option<u64>) -> Vec<Invalidation> {
        for (prefix, state) in self.prefixes.iter_mut() {
            if key.starts_with(prefix) {
                state.changed.insert(Bytes::copy_from_slice(key), by);
            }
        }
        let Some(ids) = self.table.remove(key) else {
            return Vec::new();
        };
        self.items -= ids.len();
        ids.into_iter()
            .filter(|id| {
                self.clients
                    .get(id)
                    .is_some_and(|t| !(t.bcast || (t.noloop && by == Some(*id))))
            })
            .map(|client| Invalidation {
                client,
                keys: Some(vec![Bytes::copy_from_slice(key)]),
            })
            .collect()
    }

    /// Keys in the default-mode table (INFO `tracking_total_keys`).
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Over `keys_max` keys (`tracking-table-max-keys`), forgets keys until under it, at
    /// most `effort` of them, telling their clients as if the keys had changed (Redis's
    /// `trackingLimitUsedSlots`). Which keys go is unspecified, as Redis picks at random.
    pub fn evict_over_limit(&mut self, keys_max: usize, effort: usize) -> Vec<Invalidation> {
        let mut told = Vec::new();
        for _ in 0..effort {
            if self.table.len() <= keys_max {
                break;
            }
            let Some(key) = self.table.keys().next().cloned() else {
                break;
            };
            let Some(ids) = self.table.remove(&key) else {
                break;
            };
            self.items -= ids.len();
            told.extend(
                ids.into_iter()
                    .filter(|id| self.clients.get(id).is_some_and(|t| !t.bcast))
                    .map(|client| Invalidation {
                        client,
                        keys: Some(vec![key.clone()]),
                    }),
            );
        }
        told
    }

    /// FLUSHDB or FLUSHALL: every tracking client is told that every key changed.
    pub fn flush(&mut self) -> Vec<Invalidation> {
        self.table.clear();
        self.items = 0;
        let mut clients: Vec<u64> = self.clients.keys().copied().collect();
        clients.sort_unstable();
        clients
            .into_iter()
            .map(|client| Invalidation { client, keys: None })
            .collect()
    }

    /// The broadcasts due: per prefix with changes, each of its clients gets the changed
    /// keys (without its own changes when NOLOOP).
    pub fn take_broadcasts(&mut self) -> Vec<Invalidation> {
        let mut out = Vec::new();
        for state in self.prefixes.values_mut() {
            if state.changed.is_empty() {
                continue;
            }
            let changed = std::mem::take(&mut state.changed);
            for &client in &state.clients {
                let noloop = self.clients.get(&client).is_some_and(|t| t.noloop);
                let keys: Vec<Bytes> = changed
                    .iter()
                    .filter(|(_, by)| !(noloop && **by == Some(client)))
                    .map(|(k, _)| k.clone())
                    .collect();
                if !keys.is_empty() {
                    out.push(Invalidation {
                        client,
                        keys: Some(keys),
                    });
                }
            }
        }
        out
    }

    /// Whether broadcasts may be due (a cheap test after each command).
    pub fn has_broadcasts(&self) -> bool {
        self.prefixes.values().any(|p| !p.changed.is_empty())
    }

    /// INFO's `tracking_total_keys`, `tracking_total_items`, `tracking_total_prefixes`.
    pub fn totals(&self) -> (usize, usize, usize) {
        (self.table.len(), self.items, self.prefixes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn over_the_limit_keys_are_forgotten_and_their_readers_told() {
        let mut t = Tracking::default();
        t.enable(1, ClientTracking::default(), &[]);
        t.enable(2, ClientTracking::default(), &[]);
        t.remember(1, [b("a"), b("b"), b("c")]);
        t.remember(2, [b("a")]);
        assert!(t.evict_over_limit(3, 100).is_empty());
        let told = t.evict_over_limit(1, 100);
        assert_eq!(t.table_len(), 1);
        // Two keys went: each reader of each is told once.
        let keys: BTreeSet<Vec<u8>> = told
            .iter()
            .flat_map(|i| i.keys.clone().unwrap_or_default())
            .map(|k| k.to_vec())
            .collect();
        assert_eq!(keys.len(), 2);
        assert_eq!(t.totals().0, 1);
        // The effort bounds one pass.
        t.remember(1, [b("x"), b("y"), b("z")]);
        t.evict_over_limit(0, 2);
        assert_eq!(t.table_len(), 2);
    }

    #[test]
    fn default_mode_tells_each_reader_once() {
        let mut t = Tracking::default();
        t.enable(1, ClientTracking::default(), &[]);
        t.enable(
            2,
            ClientTracking {
                noloop: true,
                ..ClientTracking::default()
            },
            &[],
        );
        t.remember(1, [b("k")]);
        t.remember(2, [b("k")]);
        assert_eq!(t.totals(), (1, 2, 0));
        let told: Vec<u64> = t
            .invalidate(b"k", Some(2))
            .iter()
            .map(|i| i.client)
            .collect();
        assert_eq!(told, vec![1]);
        assert!(t.invalidate(b"k", Some(2)).is_empty());
        assert_eq!(t.totals(), (0, 0, 0));
    }

    #[test]
    fn optin_needs_caching_yes() {
        let mut t = Tracking::default();
        let optin = ClientTracking {
            optin: true,
            ..ClientTracking::default()
        };
        t.enable(1, optin, &[]);
        t.remember(1, [b("a")]);
        assert_eq!(t.totals().0, 0);
        if let Some(s) = t.of_mut(1) {
            s.caching = true;
        }
        t.remember(1, [b("b")]);
        t.command_done(1);
        t.remember(1, [b("c")]);
        assert_eq!(t.totals().0, 1);
    }

    #[test]
    fn broadcasts_follow_prefixes() {
        let mut t = Tracking::default();
        let bcast = ClientTracking {
            bcast: true,
            noloop: true,
            ..ClientTracking::default()
        };
        t.enable(1, bcast, &[b("user:")]);
        t.invalidate(b"user:1", Some(9));
        t.invalidate(b"user:2", Some(1));
        t.invalidate(b"other", Some(9));
        assert_eq!(
            t.take_broadcasts(),
            vec![Invalidation {
                client: 1,
                keys: Some(vec![b("user:1")])
            }]
        );
        assert!(t.take_broadcasts().is_empty());
        assert!(t.prefix_collision(1, &[b("us")]).is_some());
        assert!(t.prefix_collision(1, &[b("a"), b("ab")]).is_some());
        assert!(t.prefix_collision(1, &[b("a"), b("b")]).is_none());
        t.disable(1);
        assert_eq!(t.totals(), (0, 0, 0));
    }
}
