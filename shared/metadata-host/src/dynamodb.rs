//! [`MetadataStore`] on one DynamoDB table: string keys `pk` (HASH) and `sk` (RANGE),
//! the record's JSON in `body`, its revision in `rev`, the heartbeat in `hb` and
//! counters in `n` (items `seq/…`, which no record prefix selects). Reads are strongly
//! consistent (a create Metaflow just made must be visible to the GET that follows a
//! 409). "Exists" and "changed meanwhile" come from the typed
//! `ConditionalCheckFailedException`, never from message text.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TableStatus,
};
use dropflow_metadata_service::store::{Item, MetadataStore, ServiceError, ServiceResult};

/// The table, through one SDK client.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

type Attributes = HashMap<String, AttributeValue>;

fn error<E>(operation: &str, table: &str, error: E) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    ServiceError {
        operation: format!("dynamodb:{operation} {table}"),
        code: error.code().map(String::from),
        message: DisplayErrorContext(&error).to_string(),
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number<T: std::str::FromStr>(attributes: &Attributes, name: &str) -> Option<T> {
    match attributes.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

fn string(attributes: &Attributes, name: &str) -> Option<String> {
    match attributes.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn to_item(table: &str, attributes: &Attributes) -> ServiceResult<Item> {
    let field = |name: &str| {
        string(attributes, name).ok_or_else(|| {
            ServiceError::new(
                format!("dynamodb:read {table}"),
                format!("an item lacks the string attribute {name:?}"),
            )
        })
    };
    Ok(Item {
        pk: field("pk")?,
        sk: field("sk")?,
        body: field("body")?,
        rev: number(attributes, "rev").unwrap_or(0),
        heartbeat: number(attributes, "hb"),
    })
}

impl DynamoStore {
    /// The store on `table`, with clients built from `sdk`.
    pub fn new(sdk: &SdkConfig, table: &str) -> Self {
        Self {
            client: Client::new(sdk),
            table: table.to_string(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (on-demand capacity) unless it exists, and waits until it is
    /// active: for the local stack and tests (the template creates it on AWS).
    pub async fn ensure_table(&self) -> ServiceResult<()> {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| ServiceError::new("dynamodb:CreateTable", e.to_string()))
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| ServiceError::new("dynamodb:CreateTable", e.to_string()))
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(attribute("pk")?)
            .attribute_definitions(attribute("sk")?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateTableError::ResourceInUseException(_))
                ) => {}
            Err(e) => return Err(error("CreateTable", &self.table, e)),
        }
        for _ in 0..120 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| error("DescribeTable", &self.table, e))?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(ServiceError::new(
            format!("dynamodb:DescribeTable {}", self.table),
            "the table did not become ACTIVE within 60 s",
        ))
    }
}

impl MetadataStore for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> ServiceResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| error("GetItem", &self.table, e))?;
        out.item().map(|a| to_item(&self.table, a)).transpose()
    }

    async fn query(&self, pk: &str, sk_prefix: &str) -> ServiceResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Attributes> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start.take());
            // An empty string is not a valid key condition value.
            request = if sk_prefix.is_empty() {
                request.key_condition_expression("pk = :pk")
            } else {
                request
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(sk_prefix))
            };
            let out = request
                .send()
                .await
                .map_err(|e| error("Query", &self.table, e))?;
            for attributes in out.items() {
                // Counters (`seq/…`) share a partition with records but have no body.
                if attributes.contains_key("body") {
                    items.push(to_item(&self.table, attributes)?);
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    async fn create(&self, item: Item) -> ServiceResult<bool> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&item.pk))
            .item("sk", s(&item.sk))
            .item("body", AttributeValue::S(item.body))
            .item("rev", n(item.rev))
            .condition_expression("attribute_not_exists(pk)");
        if let Some(hb) = item.heartbeat {
            request = request.item("hb", n(hb));
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(error("PutItem", &self.table, e)),
        }
    }

    async fn update(&self, pk: &str, sk: &str, body: String, rev: u64) -> ServiceResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET #body = :body, #rev = :next")
            .condition_expression("#rev = :rev")
            .expression_attribute_names("#body", "body")
            .expression_attribute_names("#rev", "rev")
            .expression_attribute_values(":body", AttributeValue::S(body))
            .expression_attribute_values(":next", n(rev + 1))
            .expression_attribute_values(":rev", n(rev))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(error("UpdateItem", &self.table, e)),
        }
    }

    async fn heartbeat(&self, pk: &str, sk: &str, at: i64) -> ServiceResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET #hb = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#hb", "hb")
            .expression_attribute_values(":at", n(at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(error("UpdateItem", &self.table, e)),
        }
    }

    async fn next_ids(&self, pk: &str, sk: &str, count: u64) -> ServiceResult<u64> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("ADD #n :count")
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":count", n(count.max(1)))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| error("UpdateItem", &self.table, e))?;
        out.attributes()
            .and_then(|a| number(a, "n"))
            .ok_or_else(|| {
                ServiceError::new(
                    format!("dynamodb:UpdateItem {}", self.table),
                    format!("the counter {pk}/{sk} came back without its value"),
                )
            })
    }
}
