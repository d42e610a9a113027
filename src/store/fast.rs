//! The hash map and set types of the keyspace's collections: hashbrown with foldhash, which
//! is several times faster than SipHash for short keys. Their own module, so that the value
//! types can share them without importing each other.

pub type FastMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;
pub type FastSet<K> = hashbrown::HashSet<K, foldhash::fast::RandomState>;
