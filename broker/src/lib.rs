//! The Fjord broker: a tokio server that answers the Kafka protocol from partition logs.
//!
//! A request's path: [`server`] accepts a connection; [`connection`] reads size-prefixed frames
//! and decodes the header; [`dispatch`] checks the API and version against the one table of
//! supported APIs and routes the decoded body to its module in [`handlers`]; the handler works
//! on the shared [`broker::Broker`] state: the [`topics`] registry, whose [`partition`]s own
//! their `fjord_storage` logs. Errors become Kafka error codes in [`error`] only. Around that:
//! [`group`] and [`txn`] coordinate consumer groups and transactions, [`maintenance`] runs
//! retention and compaction, [`metrics`] serves Prometheus, [`limits`] bounds what a client
//! may ask for. [`broker_config`] maps the settings to Kafka's broker config names for
//! DescribeConfigs.

pub mod broker;
pub mod broker_config;
pub mod clock;
pub mod config;
pub mod connection;
pub mod data_dir;
pub mod dispatch;
pub mod error;
pub mod fetch_session;
pub mod frame;
pub mod group;
pub mod handlers;
pub mod limits;
pub mod maintenance;
pub mod metrics;
pub mod partition;
pub mod producer_ids;
pub mod producer_state;
pub mod server;
pub mod test_faults;
pub mod topic_config;
pub mod topic_name;
pub mod topic_store;
pub mod topics;
pub mod txn;
