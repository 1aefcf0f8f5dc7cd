//! Interoperability tests of the devnet (see `tests/`): every public client the devnet
//! claims to serve, over a real websocket. This library is empty on purpose.
