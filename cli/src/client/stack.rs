//! `--stack NAME` (or `DROPFLOW_STACK`): the trigger API and the deployment bucket from the
//! outputs of the CloudFormation stack dropflow was deployed as (`ApiUrl`, `BucketName`),
//! read with `DescribeStacks`. CloudFormation's query API is called directly, SigV4-signed
//! like the trigger API, rather than through its SDK crate (one call does not pay for a
//! crate that large). `AWS_ENDPOINT_URL_CLOUDFORMATION`, else `AWS_ENDPOINT_URL`, overrides
//! the endpoint.

use std::collections::BTreeMap;

use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::error::ClientError;
use super::http::{Signer, connection_message, https_client, sign_request};

/// Environment variable naming the stack (as `--stack`).
pub const STACK_ENV: &str = "DROPFLOW_STACK";
/// The stack output holding the trigger API's URL.
pub const API_OUTPUT: &str = "ApiUrl";
/// The stack output holding the deployment bucket's name.
pub const BUCKET_OUTPUT: &str = "BucketName";

/// What a stack says about itself: its status and its outputs by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutputs {
    /// `CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`...
    pub status: String,
    /// Output values by output key.
    pub outputs: BTreeMap<String, String>,
}

impl StackOutputs {
    /// The value of output `key`, or an error naming the stack, its status and what to do.
    pub fn require(&self, stack: &str, key: &str) -> Result<String, ClientError> {
        self.outputs
            .get(key)
            .cloned()
            .ok_or_else(|| ClientError::StackOutputMissing {
                stack: stack.to_string(),
                status: self.status.clone(),
                output: key.to_string(),
            })
    }
}

/// The CloudFormation endpoint for `region`: `override_url` when given, else AWS's.
pub fn endpoint(region: &str, override_url: Option<&str>) -> String {
    match override_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None if region.starts_with("cn-") => {
            format!("https://cloudformation.{region}.amazonaws.com.cn")
        }
        None => format!("https://cloudformation.{region}.amazonaws.com"),
    }
}

/// Describes stack `stack` at `endpoint`, signed by `signer`.
pub async fn describe(
    endpoint: &str,
    signer: &Signer,
    stack: &str,
) -> Result<StackOutputs, ClientError> {
    let url = format!("{endpoint}/");
    let failed = |message: String| ClientError::Http {
        method: "POST".into(),
        url: url.clone(),
        message,
    };
    let body = format!(
        "Action=DescribeStacks&Version=2010-05-15&StackName={}",
        utf8_percent_encode(stack, NON_ALPHANUMERIC)
    )
    .into_bytes();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(&url)
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Full::new(Bytes::from(body.clone())))
        .map_err(|e| failed(e.to_string()))?;
    sign_request(signer, "cloudformation", &mut request, &body).await?;
    let response = https_client(&url)?
        .request(request)
        .await
        .map_err(|e| failed(connection_message(&e)))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| failed(e.to_string()))?
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    let unreadable = |message: String| ClientError::Stack {
        stack: stack.to_string(),
        message: format!("CloudFormation's answer cannot be read ({message})"),
    };
    if !status.is_success() {
        let (code, message) = parse_error(&text).map_err(unreadable)?;
        return Err(ClientError::Stack {
            stack: stack.to_string(),
            message: format!("{message} ({status} {code})"),
        });
    }
    parse_outputs(&text).map_err(unreadable)
}

/// Reads the first stack of a `DescribeStacks` answer.
pub fn parse_outputs(xml: &str) -> Result<StackOutputs, String> {
    let mut document = Document::new(xml);
    let mut root = document.root_element().map_err(|e| e.to_string())?;
    let mut found = None;
    while let Some(mut result) = root.next_tag() {
        if !result.start_el().matches("DescribeStacksResult") {
            continue;
        }
        while let Some(mut stacks) = result.next_tag() {
            if !stacks.start_el().matches("Stacks") {
                continue;
            }
            if let Some(mut member) = stacks.next_tag() {
                found = Some(read_stack(&mut member)?);
            }
        }
    }
    found.ok_or_else(|| "no stack in the answer".to_string())
}

fn read_stack(member: &mut ScopedDecoder<'_, '_>) -> Result<StackOutputs, String> {
    let mut stack = StackOutputs {
        status: String::new(),
        outputs: BTreeMap::new(),
    };
    while let Some(mut field) = member.next_tag() {
        if field.start_el().matches("StackStatus") {
            stack.status = try_data(&mut field).map_err(|e| e.to_string())?.into();
        } else if field.start_el().matches("Outputs") {
            while let Some(mut output) = field.next_tag() {
                let (mut key, mut value) = (None, None);
                while let Some(mut part) = output.next_tag() {
                    if part.start_el().matches("OutputKey") {
                        key = Some(try_data(&mut part).map_err(|e| e.to_string())?.into_owned());
                    } else if part.start_el().matches("OutputValue") {
                        value = Some(try_data(&mut part).map_err(|e| e.to_string())?.into_owned());
                    }
                }
                if let (Some(key), Some(value)) = (key, value) {
                    stack.outputs.insert(key, value);
                }
            }
        }
    }
    Ok(stack)
}

/// The code and message of a query API error answer.
pub fn parse_error(xml: &str) -> Result<(String, String), String> {
    let mut document = Document::new(xml);
    let mut root = document.root_element().map_err(|e| e.to_string())?;
    while let Some(mut error) = root.next_tag() {
        if !error.start_el().matches("Error") {
            continue;
        }
        let (mut code, mut message) = (String::new(), String::new());
        while let Some(mut part) = error.next_tag() {
            if part.start_el().matches("Code") {
                code = try_data(&mut part).map_err(|e| e.to_string())?.into();
            } else if part.start_el().matches("Message") {
                message = try_data(&mut part).map_err(|e| e.to_string())?.into();
            }
        }
        return Ok((code, message));
    }
    Err("no error in the answer".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <DescribeStacksResult>
    <Stacks>
      <member>
        <StackName>dropflow</StackName>
        <Tags/>
        <StackStatus>UPDATE_COMPLETE</StackStatus>
        <Outputs>
          <member>
            <OutputKey>BucketName</OutputKey>
            <OutputValue>dropflow-123456789012-eu-west-1</OutputValue>
            <Description>The bucket</Description>
          </member>
          <member>
            <OutputKey>ApiUrl</OutputKey>
            <OutputValue>https://abc.execute-api.eu-west-1.amazonaws.com/?a=1&amp;b=2</OutputValue>
          </member>
        </Outputs>
      </member>
    </Stacks>
  </DescribeStacksResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</DescribeStacksResponse>"#;

    #[test]
    fn outputs_and_status_are_read_unescaped() {
        let stack = parse_outputs(ANSWER).unwrap();
        assert_eq!(stack.status, "UPDATE_COMPLETE");
        assert_eq!(
            stack.require("dropflow", BUCKET_OUTPUT).unwrap(),
            "dropflow-123456789012-eu-west-1"
        );
        assert_eq!(
            stack.require("dropflow", API_OUTPUT).unwrap(),
            "https://abc.execute-api.eu-west-1.amazonaws.com/?a=1&b=2"
        );
        let missing = stack.require("dropflow", "Nope").unwrap_err().to_string();
        assert!(
            missing.contains("stack dropflow (UPDATE_COMPLETE) has no output Nope"),
            "{missing}"
        );
    }

    #[test]
    fn an_error_answer_gives_its_code_and_message() {
        let xml = r#"<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id nope does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>"#;
        assert_eq!(
            parse_error(xml).unwrap(),
            (
                "ValidationError".to_string(),
                "Stack with id nope does not exist".to_string()
            )
        );
        assert!(parse_outputs("<DescribeStacksResponse/>").is_err());
    }

    #[test]
    fn the_endpoint_is_the_regions_unless_overridden() {
        assert_eq!(
            endpoint("eu-west-1", None),
            "https://cloudformation.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint("cn-north-1", None),
            "https://cloudformation.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            endpoint("eu-west-1", Some("http://127.0.0.1:5000/")),
            "http://127.0.0.1:5000"
        );
    }
}
