//! JSON-RPC errors with the codes and messages geth uses, because clients
//! match on them: `-32000` for a refused transaction or missing data, `3`
//! with the revert data for a reverted call, `-32602` for bad parameters,
//! `-32005` when a query exceeds a limit.

use alloy_primitives::{Bytes, U256};
use jsonrpsee::types::ErrorObjectOwned;
use outrigger_execution::{StoreError, call::CallError, txpool::PoolError};

/// geth's code for most failures of a valid request.
pub const SERVER_ERROR: i32 = -32000;
/// Invalid method parameters.
pub const INVALID_PARAMS: i32 = -32602;
/// Internal error (the node's fault).
pub const INTERNAL_ERROR: i32 = -32603;
/// EIP-1474's "limit exceeded".
pub const LIMIT_EXCEEDED: i32 = -32005;
/// geth's code for a reverted call, with the revert data in `data`.
pub const EXECUTION_REVERTED: i32 = 3;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// A parameter is wrong in a way the types cannot say.
    #[error("{0}")]
    InvalidParams(String),
    /// The requested block does not exist.
    #[error("header not found")]
    HeaderNotFound,
    /// The state of an older block was asked for; only the head's is kept.
    #[error(
        "historical state not available for block #{requested}: this node keeps the state of blocks #{oldest} to #{head}"
    )]
    HistoricalState {
        /// The block asked for.
        requested: u64,
        /// The oldest block whose state is kept.
        oldest: u64,
        /// The head.
        head: u64,
    },
    /// The pool refused a transaction (geth's message).
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The call reverted.
    #[error("execution reverted{}", revert_reason(.0).map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted(Bytes),
    /// The call or estimate failed otherwise (geth's message).
    #[error("{0}")]
    Execution(String),
    /// A query exceeds a configured limit.
    #[error("{0}")]
    LimitExceeded(String),
    /// The node failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias for RPC handlers.
pub type RpcResult<T> = Result<T, RpcError>;

impl From<StoreError> for RpcError {
    fn from(error: StoreError) -> Self {
        if let StoreError::StateUnavailable {
            number,
            oldest,
            head,
        } = error
        {
            return Self::HistoricalState {
                requested: number,
                oldest,
                head,
            };
        }
        tracing::error!(target: "rpc", %error, "store read failed");
        Self::Internal(error.to_string())
    }
}

impl From<CallError> for RpcError {
    fn from(error: CallError) -> Self {
        use outrigger_execution::call::CallOutcome;
        match error {
            CallError::Reverted(CallOutcome::Revert { output, .. }) => Self::Reverted(output),
            CallError::Store(error) => error.into(),
            other => Self::Execution(other.to_string()),
        }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(error: RpcError) -> Self {
        let message = error.to_string();
        match error {
            RpcError::InvalidParams(_) => {
                ErrorObjectOwned::owned(INVALID_PARAMS, message, None::<()>)
            }
            // geth answers -32000 without data when there is no revert data.
            RpcError::Reverted(data) if data.is_empty() => {
                ErrorObjectOwned::owned(SERVER_ERROR, message, None::<()>)
            }
            RpcError::Reverted(data) => {
                ErrorObjectOwned::owned(EXECUTION_REVERTED, message, Some(data))
            }
            RpcError::LimitExceeded(_) => {
                ErrorObjectOwned::owned(LIMIT_EXCEEDED, message, None::<()>)
            }
            RpcError::Internal(_) => ErrorObjectOwned::owned(INTERNAL_ERROR, message, None::<()>),
            RpcError::Pool(PoolError::State { .. }) => {
                ErrorObjectOwned::owned(INTERNAL_ERROR, message, None::<()>)
            }
            RpcError::HeaderNotFound
            | RpcError::HistoricalState { .. }
            | RpcError::Pool(_)
            | RpcError::Execution(_) => ErrorObjectOwned::owned(SERVER_ERROR, message, None::<()>),
        }
    }
}

/// jsonrpsee refuses a subscription past the per-connection limit with
/// -32006, the spec's code for "JSON-RPC version not supported"; clients
/// look for -32005 "limit exceeded". Rewrites that answer to -32005,
/// naming the limit; passes any other through.
pub(crate) fn subscription_limit_error(
    response: jsonrpsee::MethodResponse,
    id: jsonrpsee::types::Id<'static>,
    limit: u32,
) -> jsonrpsee::MethodResponse {
    use jsonrpsee::{MethodResponse, types::error::TOO_MANY_SUBSCRIPTIONS_CODE};
    if response.as_error_code() != Some(TOO_MANY_SUBSCRIPTIONS_CODE) {
        return response;
    }
    let error = ErrorObjectOwned::owned(
        LIMIT_EXCEEDED,
        format!(
            "too many subscriptions on this connection: limit {limit} (rpc.max_subscriptions_per_connection)"
        ),
        None::<()>,
    );
    let extensions = response.extensions().clone();
    let rewritten = if response.is_subscription() {
        MethodResponse::subscription_error(id, error)
    } else {
        MethodResponse::error(id, error)
    };
    rewritten.with_extensions(extensions)
}

/// The reason in revert data, as geth decodes it: the string of an
/// `Error(string)`, or the meaning of a `Panic(uint256)` code.
pub fn revert_reason(data: &[u8]) -> Option<String> {
    const ERROR_SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    const PANIC_SELECTOR: [u8; 4] = [0x4e, 0x48, 0x7b, 0x71];
    let (selector, body) = (data.get(..4)?, data.get(4..)?);
    if selector == ERROR_SELECTOR {
        // offset (32) | length (32) | bytes
        let offset = usize::try_from(U256::from_be_slice(body.get(..32)?)).ok()?;
        let len_word = body.get(offset..offset.checked_add(32)?)?;
        let len = usize::try_from(U256::from_be_slice(len_word)).ok()?;
        let start = offset + 32;
        let text = body.get(start..start.checked_add(len)?)?;
        return String::from_utf8(text.to_vec()).ok();
    }
    if selector == PANIC_SELECTOR && body.len() == 32 {
        let code = U256::from_be_slice(body);
        let meaning = match code.try_into().unwrap_or(u64::MAX) {
            0x00 => "generic panic",
            0x01 => "assert(false)",
            0x11 => "arithmetic underflow or overflow",
            0x12 => "division or modulo by zero",
            0x21 => "enum overflow",
            0x22 => "invalid encoded storage byte array accessed",
            0x31 => "out-of-bounds array access; popping on an empty array",
            0x32 => "out-of-bounds access of an array or bytesN",
            0x41 => "out of memory",
            0x51 => "uninitialized function",
            _ => return Some(format!("unknown panic code: {code:#x}")),
        };
        return Some(meaning.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::hex;

    #[test]
    fn decodes_error_string_and_panic() {
        // Error("always fails")
        let data = hex::decode("08c379a00000000000000000000000000000000000000000000000000000000000000020000000000000000000000000000000000000000000000000000000000000000c616c77617973206661696c730000000000000000000000000000000000000000").unwrap();
        assert_eq!(revert_reason(&data).as_deref(), Some("always fails"));
        let error = ErrorObjectOwned::from(RpcError::Reverted(data.clone().into()));
        assert_eq!(error.code(), 3);
        assert_eq!(error.message(), "execution reverted: always fails");
        assert_eq!(
            error.data().unwrap().get(),
            format!("\"0x{}\"", hex::encode(&data))
        );
        // Panic(0x11)
        let mut panic = hex::decode("4e487b71").unwrap();
        panic.extend_from_slice(&U256::from(0x11).to_be_bytes::<32>());
        assert_eq!(
            revert_reason(&panic).as_deref(),
            Some("arithmetic underflow or overflow")
        );
        // Custom errors and garbage have no reason; no panic on short input.
        assert_eq!(revert_reason(&hex::decode("deadbeef00").unwrap()), None);
        assert_eq!(revert_reason(&data[..40]), None);
        let bare = ErrorObjectOwned::from(RpcError::Reverted(Bytes::new()));
        assert_eq!(bare.message(), "execution reverted");
        assert_eq!(bare.code(), SERVER_ERROR);
        assert!(bare.data().is_none());
    }
}
