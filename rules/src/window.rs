//! The work window (`docs/SPEC.md`, "Admission checks", `InvalidWorkBlock`): a seal is bound
//! to one block's hash and stays usable while that block is one of the last
//! [`WORK_WINDOW`] blocks below the block the extrinsic is checked at.

/// How many blocks back a work block may be, counted from the block that checks it.
pub const WORK_WINDOW: u64 = 5;

/// Whether a seal on `work_block` passes the window check made at block `checked_at`
/// (the pool checks at head + 1; a block's own extrinsics are checked at its number):
/// `work_block < checked_at` and `checked_at - work_block <= WORK_WINDOW`.
pub fn in_window(work_block: u64, checked_at: u64) -> bool {
    work_block < checked_at && checked_at - work_block <= WORK_WINDOW
}

/// The last block whose checks still accept a seal on `work_block`: once the chain's
/// head reaches it, a transaction carrying that seal can no longer be included.
pub fn last_block_accepting(work_block: u64) -> u64 {
    work_block.saturating_add(WORK_WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_five_blocks_below_the_checking_block() {
        let accepted: Vec<u64> = (0..20).filter(|&w| in_window(w, 10)).collect();
        assert_eq!(accepted, vec![5, 6, 7, 8, 9]);
        assert!(!in_window(0, 0));
        assert!(in_window(u64::MAX - 1, u64::MAX));
        for work_block in 0..50 {
            let last = last_block_accepting(work_block);
            assert!(in_window(work_block, last));
            assert!(!in_window(work_block, last + 1));
        }
    }
}
