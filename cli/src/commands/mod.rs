//! One module per subcommand.

pub mod bench;
pub mod devices;
pub mod devnet;
pub mod farm;
pub mod register;
pub mod seal;
pub mod solve;
pub mod status;
pub mod verify;
