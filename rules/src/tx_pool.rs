//! What subtensor's transaction pool answers a `pow_register` it will not take
//! (`docs/SPEC.md`, "Admission checks"): `InvalidTransaction::Custom(code)` with one of
//! three codes. The devnet answers with them; the registration policy reads them.

/// `Custom(3)`: the subnet does not exist (`SubnetNotExists`). Fatal: no seal can pass.
pub const SUBNET_NOT_EXISTS: u8 = 3;
/// `Custom(25)`: the hotkey is owned by another coldkey (`NonAssociatedColdKey`). Fatal.
pub const NON_ASSOCIATED_COLDKEY: u8 = 25;
/// `Custom(255)`: any other PoW admission rule ("bad request"): the window, the seal, the
/// difficulty, registrations in the block, the hotkey's last PoW block, …
pub const BAD_REQUEST: u8 = 255;
