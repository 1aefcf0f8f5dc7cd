//! One module per subcommand.

pub mod bench;
pub mod devices;
pub mod devnet;
pub mod seal;
pub mod solve;
pub mod verify;
