//! Transaction validity as `sp_runtime` defines it: what the pool answers, what
//! `TaggedTransactionQueue_validate_transaction` returns, and the author RPC's error objects.

use parity_scale_codec::Encode;

/// `sp_runtime::transaction_validity::InvalidTransaction` (the variants the devnet uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransaction {
    /// The call is not one the devnet dispatches (or an unsigned `pow_register`).
    #[error("Transaction call is not expected")]
    Call,
    /// The signer cannot pay the tip.
    #[error("Inability to pay some fees (e.g. account balance too low)")]
    Payment,
    /// The nonce is ahead of the account's next nonce.
    #[error("Transaction will be valid in the future")]
    Future,
    /// The nonce was already used.
    #[error("Transaction is outdated")]
    Stale,
    /// The signature does not verify over the signing payload.
    #[error("Transaction has a bad signature")]
    BadProof,
    /// The era's birth block is after the current block.
    #[error("Transaction has an ancient birth block")]
    AncientBirthBlock,
    /// The all-zero account signed (`CheckNonZeroSender`).
    #[error("Invalid signing address")]
    BadSigner,
    /// A pallet-specific refusal; subtensor uses it for PoW admission (3, 25, 255).
    #[error("Custom error: {0}")]
    Custom(u8),
}

impl InvalidTransaction {
    /// SCALE encoding (variant index as in `sp_runtime`, then the custom code).
    fn encode_to(self, out: &mut Vec<u8>) {
        match self {
            InvalidTransaction::Call => out.push(0),
            InvalidTransaction::Payment => out.push(1),
            InvalidTransaction::Future => out.push(2),
            InvalidTransaction::Stale => out.push(3),
            InvalidTransaction::BadProof => out.push(4),
            InvalidTransaction::AncientBirthBlock => out.push(5),
            InvalidTransaction::Custom(code) => out.extend_from_slice(&[7, code]),
            InvalidTransaction::BadSigner => out.push(10),
        }
    }
}

/// `sp_runtime::transaction_validity::ValidTransaction`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidTransaction {
    /// Ordering in the pool (PoW registrations are fee-free: 0).
    pub priority: u64,
    /// Tags that must be provided first (the previous nonce of the signer).
    pub requires: Vec<Vec<u8>>,
    /// Tags this transaction provides: `(signer, nonce)` and, for `pow_register`,
    /// `("pow-registration", hotkey, work_block)`.
    pub provides: Vec<Vec<u8>>,
    /// Blocks it stays valid for.
    pub longevity: u64,
    /// Whether it may be gossiped.
    pub propagate: bool,
}

/// `TransactionValidity` as `TaggedTransactionQueue_validate_transaction` returns it.
pub fn encode_validity(validity: &Result<ValidTransaction, InvalidTransaction>) -> Vec<u8> {
    let mut out = Vec::new();
    match validity {
        Ok(v) => {
            out.push(0);
            v.priority.encode_to(&mut out);
            v.requires.encode_to(&mut out);
            v.provides.encode_to(&mut out);
            v.longevity.encode_to(&mut out);
            v.propagate.encode_to(&mut out);
        }
        Err(e) => {
            out.extend_from_slice(&[1, 0]); // Err(TransactionValidityError::Invalid(..))
            e.encode_to(&mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_encodes_as_sp_runtime_does() {
        assert_eq!(
            encode_validity(&Err(InvalidTransaction::Custom(255))),
            [1, 0, 7, 255]
        );
        assert_eq!(encode_validity(&Err(InvalidTransaction::Stale)), [1, 0, 3]);
        let valid = ValidTransaction {
            priority: 1,
            requires: vec![],
            provides: vec![vec![9]],
            longevity: 6,
            propagate: true,
        };
        // Ok, priority 1 (u64), requires [], provides [[9]], longevity 6 (u64), propagate.
        let want = [
            0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 9, 6, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        assert_eq!(encode_validity(&Ok(valid)), want);
        assert_eq!(InvalidTransaction::Custom(3).to_string(), "Custom error: 3");
    }
}
