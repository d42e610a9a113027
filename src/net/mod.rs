//! Sockets: the listener, one task per connection, and the server cron.

pub mod connection;
pub mod cron;
pub mod listener;

pub use listener::run;
