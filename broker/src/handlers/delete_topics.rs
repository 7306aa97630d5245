//! DeleteTopics: by name (v0-v5) or by name or id (v6+).

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::delete_topics_response::DeletableTopicResult;
use fjord_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use uuid::Uuid;

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::topic_error_code;
use crate::topic_name::is_internal_topic;

/// Answers DeleteTopics.
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let wanted: Vec<(Option<String>, Uuid)> = if ctx.api_version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::nil()))
            .collect()
    };
    let responses = wanted
        .into_iter()
        .map(|(name, id)| delete_one(broker, name, id))
        .collect();
    DeleteTopicsResponse {
        responses,
        ..Default::default()
    }
}

fn delete_one(broker: &Broker, name: Option<String>, id: Uuid) -> DeletableTopicResult {
    let result = |name: Option<String>, id: Uuid, code: ErrorCode, message: Option<String>| {
        DeletableTopicResult {
            name,
            topic_id: id,
            error_code: code.code(),
            error_message: message,
            ..Default::default()
        }
    };
    let name = match (name, id.is_nil()) {
        (Some(name), true) => name,
        (None, false) => match broker.topics.get_by_id(&id) {
            Some(topic) => topic.name.clone(),
            None => return result(None, id, ErrorCode::UnknownTopicId, None),
        },
        // Exactly one of name and id must be given.
        (name, _) => {
            return result(
                name,
                id,
                ErrorCode::InvalidRequest,
                Some("give a topic name or a topic id".into()),
            );
        }
    };
    if is_internal_topic(&name) {
        return result(
            Some(name),
            id,
            ErrorCode::InvalidTopicException,
            Some("internal topics cannot be deleted".into()),
        );
    }
    match broker.topics.delete(&name) {
        Ok(topic) => result(Some(name), topic.id, ErrorCode::None, None),
        Err(e) => result(Some(name), id, topic_error_code(&e), Some(e.to_string())),
    }
}
