//! The cluster as the tool sees it: a bootstrap connection, the metadata, and one connection
//! per broker, so each request goes to the node that must answer it (the partition leader, the
//! group coordinator, the controller).

use std::collections::HashMap;

use fjord_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use fjord_protocol::messages::metadata_request::MetadataRequestTopic;
use fjord_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse};
use fjord_protocol::ErrorCode;
use uuid::Uuid;

use super::connection::Connection;
use super::error::{check_with_message, ClientError};

/// What the metadata says about one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition index.
    pub index: i32,
    /// The leader's node id, -1 when there is none.
    pub leader: i32,
    /// The leader epoch (-1 when the broker does not say).
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// The partition's error code in the metadata (0 when healthy).
    pub error_code: i16,
}

/// What the metadata says about one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// The topic name.
    pub name: String,
    /// The topic id (nil when the broker's Metadata version has none).
    pub id: Uuid,
    /// Whether it is an internal topic.
    pub internal: bool,
    /// Its partitions, sorted by index.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// The partition with index `partition`.
    pub fn partition(&self, partition: i32) -> Result<&PartitionInfo, ClientError> {
        self.partitions
            .iter()
            .find(|p| p.index == partition)
            .ok_or_else(|| ClientError::UnknownPartition {
                topic: self.name.clone(),
                partition,
                count: self.partitions.len(),
            })
    }

    /// The leader of `partition`.
    pub fn leader(&self, partition: i32) -> Result<i32, ClientError> {
        let info = self.partition(partition)?;
        if info.leader < 0 {
            return Err(ClientError::NoLeader {
                topic: self.name.clone(),
                partition,
            });
        }
        Ok(info.leader)
    }
}

/// A client of one cluster.
#[derive(Debug)]
pub struct Client {
    /// The `client.id` of every connection.
    client_id: String,
    /// The bootstrap address that answered; admin requests without a better target go here.
    bootstrap: String,
    /// Broker addresses by node id, from the last metadata.
    nodes: HashMap<i32, String>,
    /// The controller's node id, if the metadata named one.
    controller: Option<i32>,
    /// Open connections by address.
    connections: HashMap<String, Connection>,
    /// Topics from the last metadata requests.
    topics: HashMap<String, TopicInfo>,
}

impl Client {
    /// Connects to the first reachable address of a comma-separated bootstrap list.
    pub async fn connect(bootstrap: &str, client_id: &str) -> Result<Self, ClientError> {
        let mut last = None;
        for addr in bootstrap
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            if addr.rsplit_once(':').is_none() {
                return Err(ClientError::BadAddress(addr.to_owned()));
            }
            match Connection::connect(addr, client_id).await {
                Ok(conn) => {
                    let mut connections = HashMap::new();
                    connections.insert(addr.to_owned(), conn);
                    return Ok(Self {
                        client_id: client_id.to_owned(),
                        bootstrap: addr.to_owned(),
                        nodes: HashMap::new(),
                        controller: None,
                        connections,
                        topics: HashMap::new(),
                    });
                }
                Err(ClientError::Connect { source, .. }) => last = Some(source),
                Err(other) => return Err(other),
            }
        }
        Err(ClientError::Unreachable {
            bootstrap: bootstrap.to_owned(),
            source: last.unwrap_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address given")
            }),
        })
    }

    /// The `client.id` this client sends.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Another client of the same cluster, with connections of its own (so load spread over
    /// clients is spread over sockets). It starts without metadata.
    pub async fn sibling(&self) -> Result<Self, ClientError> {
        Self::connect(&self.bootstrap, &self.client_id).await
    }

    /// The connection to `addr`, opened on first use.
    pub async fn connection(&mut self, addr: &str) -> Result<&mut Connection, ClientError> {
        if !self.connections.contains_key(addr) {
            let conn = Connection::connect(addr, &self.client_id).await?;
            self.connections.insert(addr.to_owned(), conn);
        }
        self.connections
            .get_mut(addr)
            .ok_or_else(|| ClientError::BadAddress(addr.to_owned()))
    }

    /// The bootstrap connection.
    pub async fn any(&mut self) -> Result<&mut Connection, ClientError> {
        let addr = self.bootstrap.clone();
        self.connection(&addr).await
    }

    /// The address of node `node`, from the metadata.
    pub fn node_addr(&self, node: i32) -> Result<&str, ClientError> {
        self.nodes
            .get(&node)
            .map(String::as_str)
            .ok_or(ClientError::UnknownNode { node })
    }

    /// Every broker in the last metadata, by node id.
    pub fn nodes(&self) -> impl Iterator<Item = (i32, &str)> {
        self.nodes.iter().map(|(id, addr)| (*id, addr.as_str()))
    }

    /// The connection to node `node`.
    pub async fn node(&mut self, node: i32) -> Result<&mut Connection, ClientError> {
        if self.nodes.is_empty() {
            self.refresh(Some(&[])).await?;
        }
        let addr = self.node_addr(node)?.to_owned();
        self.connection(&addr).await
    }

    /// A new connection of its own to node `node` (for pipelining, which needs the socket
    /// halves).
    pub async fn open(&mut self, node: i32) -> Result<Connection, ClientError> {
        if self.nodes.is_empty() {
            self.refresh(Some(&[])).await?;
        }
        let addr = self.node_addr(node)?.to_owned();
        Connection::connect(&addr, &self.client_id).await
    }

    /// The connection to the controller (where topic admin requests go), else the bootstrap.
    pub async fn controller(&mut self) -> Result<&mut Connection, ClientError> {
        if self.nodes.is_empty() {
            self.refresh(Some(&[])).await?;
        }
        match self.controller.filter(|c| self.nodes.contains_key(c)) {
            Some(node) => self.node(node).await,
            None => self.any().await,
        }
    }

    /// Asks for metadata on `topics` (all topics when `None`) and updates the cached view.
    /// Never creates topics.
    pub async fn refresh(
        &mut self,
        topics: Option<&[String]>,
    ) -> Result<MetadataResponse, ClientError> {
        let conn = self.any().await?;
        let version = conn.version(ApiKey::Metadata)?;
        let request = MetadataRequest {
            topics: topics.map(|names| {
                names
                    .iter()
                    .map(|name| MetadataRequestTopic {
                        name: Some(name.clone()),
                        ..MetadataRequestTopic::default()
                    })
                    .collect()
            }),
            // The field exists from v4; before that the broker's own setting decides.
            allow_auto_topic_creation: version < 4,
            ..MetadataRequest::default()
        };
        let response = conn
            .send_at(&request, version, std::time::Duration::ZERO)
            .await?;
        self.absorb(&response);
        Ok(response)
    }

    /// Updates the cached brokers, controller and topics from a metadata response.
    fn absorb(&mut self, response: &MetadataResponse) {
        for broker in &response.brokers {
            self.nodes
                .insert(broker.node_id, format!("{}:{}", broker.host, broker.port));
        }
        self.controller = (response.controller_id >= 0).then_some(response.controller_id);
        for topic in &response.topics {
            let Some(name) = topic.name.clone() else {
                continue;
            };
            if topic.error_code != 0 {
                self.topics.remove(&name);
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    index: p.partition_index,
                    leader: p.leader_id,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.clone(),
                    isr: p.isr_nodes.clone(),
                    error_code: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.index);
            self.topics.insert(
                name.clone(),
                TopicInfo {
                    name,
                    id: topic.topic_id,
                    internal: topic.is_internal,
                    partitions,
                },
            );
        }
    }

    /// The metadata of one topic, asked afresh; an error if the cluster does not have it.
    pub async fn topic(&mut self, name: &str) -> Result<TopicInfo, ClientError> {
        let response = self.refresh(Some(&[name.to_owned()])).await?;
        let Some(entry) = response
            .topics
            .iter()
            .find(|t| t.name.as_deref() == Some(name))
        else {
            return Err(ClientError::UnknownTopic {
                topic: name.to_owned(),
            });
        };
        if entry.error_code == ErrorCode::UnknownTopicOrPartition.code() {
            return Err(ClientError::UnknownTopic {
                topic: name.to_owned(),
            });
        }
        check_with_message(entry.error_code, None, || {
            format!("metadata of topic {name}")
        })?;
        self.topics
            .get(name)
            .cloned()
            .ok_or_else(|| ClientError::UnknownTopic {
                topic: name.to_owned(),
            })
    }

    /// The topic as last seen, without asking the broker.
    pub fn cached_topic(&self, name: &str) -> Option<&TopicInfo> {
        self.topics.get(name)
    }

    /// The node id of the coordinator of consumer group `group`.
    pub async fn coordinator_node(&mut self, group: &str) -> Result<i32, ClientError> {
        let conn = self.any().await?;
        let version = conn.version(ApiKey::FindCoordinator)?;
        let mut request = FindCoordinatorRequest::default();
        if version >= 4 {
            request.coordinator_keys = vec![group.to_owned()];
        } else {
            request.key = group.to_owned();
        }
        let response = conn
            .send_at(&request, version, std::time::Duration::ZERO)
            .await?;
        let context = || format!("find the coordinator of group {group}");
        let (node, host, port) = if version >= 4 {
            let Some(c) = response.coordinators.first() else {
                return Err(ClientError::Kafka {
                    context: context(),
                    code: ErrorCode::CoordinatorNotAvailable,
                    message: Some(String::from("empty coordinator list")),
                });
            };
            check_with_message(c.error_code, c.error_message.as_deref(), context)?;
            (c.node_id, c.host.clone(), c.port)
        } else {
            check_with_message(
                response.error_code,
                response.error_message.as_deref(),
                context,
            )?;
            (response.node_id, response.host.clone(), response.port)
        };
        self.nodes.insert(node, format!("{host}:{port}"));
        Ok(node)
    }

    /// The connection to the coordinator of consumer group `group`.
    pub async fn coordinator(&mut self, group: &str) -> Result<&mut Connection, ClientError> {
        let node = self.coordinator_node(group).await?;
        self.node(node).await
    }
}
