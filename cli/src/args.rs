//! Command-line flags (clap derive). Values are parsed into the rules' and the solver's types
//! here, so any bad input is rejected by clap with one line and exit 2 before a command
//! starts.

use clap::{Args, Parser, Subcommand, ValueEnum};
use regpow_chain::network::ChainPin;
use regpow_chain::Network;
use regpow_rules::error::quoted_input;
use regpow_rules::keys::parse_hex32;
use regpow_rules::{Challenge, Difficulty, PublicKey};
use regpow_solver::cpu::CpuKernel;
use zeroize::Zeroizing;

/// Win Bittensor UID slots by proof-of-work registration.
#[derive(Debug, Parser)]
#[command(name = "regpow", version, about, propagate_version = true)]
pub struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute the seal of one nonce for a challenge.
    Seal(SealArgs),
    /// Check that a nonce's seal meets a difficulty.
    Verify(VerifyArgs),
    /// Search for a nonce whose seal meets a difficulty.
    Solve(SolveArgs),
    /// Measure hashrate.
    Bench(BenchArgs),
    /// List every backend's devices and whether it can run here.
    Devices,
    /// Run a local chain that enforces subtensor's PoW registration rules.
    Devnet(DevnetArgs),
    /// Win a UID slot: follow the chain, solve on every device, submit the winning seal.
    Register(RegisterArgs),
    /// Show a subnet's PoW registration state (and a hotkey's uid).
    Status(StatusArgs),
    /// Register many hotkeys on many subnets from a plan (farm.toml), on every device.
    Farm(FarmArgs),
}

/// Which chain and subnet.
#[derive(Debug, Args)]
pub struct ChainArgs {
    /// finney, test, local, devnet (an embedded local chain) or a ws:// / wss:// URL
    /// (credentials in it are never printed).
    #[arg(long, default_value = "finney", value_parser = parse_network)]
    pub network: Network,
    /// Accept a ws:// (unencrypted) URL to another machine: anyone on the path could read
    /// and change what the node says. Refused by default; use wss:// or a node on loopback.
    #[arg(long)]
    pub allow_insecure_ws: bool,
    /// Refuse to sign unless the node serves this chain: finney, test, or a genesis hash
    /// (0x…). finney's and test's public hosts are always checked; this pins any other
    /// endpoint (your own node, a provider's URL) for the whole run.
    #[arg(long, value_name = "CHAIN", value_parser = parse_chain_pin)]
    pub expect_chain: Option<ChainPin>,
    /// Subnet id (1..65535).
    #[arg(long, value_parser = parse_netuid)]
    pub netuid: u16,
}

/// Which keys register: a bittensor wallet, or explicit keys for dev chains.
#[derive(Debug, Args)]
pub struct WalletArgs {
    /// Folder of bittensor wallets (default ~/.bittensor/wallets).
    #[arg(long)]
    pub wallet_path: Option<std::path::PathBuf>,
    /// Wallet name (its coldkey signs and pays nothing: PoW registration is fee-free).
    #[arg(long, default_value = "default")]
    pub wallet_name: String,
    /// The wallet's hotkey to register.
    #[arg(long, default_value = "default")]
    pub wallet_hotkey: String,
    /// Register this hotkey (SS58 or 0x-hex) instead of the wallet's.
    #[arg(long, value_parser = parse_hotkey)]
    pub hotkey: Option<PublicKey>,
    /// Sign with this secret URI instead of the wallet's coldkey: a dev key such as //Alice,
    /// or (with `-`, read from stdin) a mnemonic or 0x-hex seed with an optional derivation
    /// path and password. A secret on the command line is refused: every user of the
    /// machine can read it in `ps` and /proc.
    #[arg(long, value_name = "URI", value_parser = parse_secret)]
    pub coldkey_uri: Option<SecretArg>,
    /// Accept a mnemonic, seed or password in --coldkey-uri on the command line.
    #[arg(long)]
    pub allow_secret_argument: bool,
    /// Use a coldkey file that other users can read (refused by default: run
    /// `chmod 600 <coldkey>` instead).
    #[arg(long)]
    pub allow_insecure_keyfile: bool,
}

/// A secret given as a flag value: wiped when dropped, and never shown by `Debug` (so a
/// debug print of the arguments cannot leak it).
#[derive(Clone)]
pub struct SecretArg(pub Zeroizing<String>);

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretArg(..)")
    }
}

fn parse_secret(s: &str) -> Result<SecretArg, String> {
    Ok(SecretArg(Zeroizing::new(s.to_string())))
}

/// `regpow register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub wallet: WalletArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Give up after this many seconds (exit 1).
    #[arg(long, value_parser = parse_seconds)]
    pub max_seconds: Option<f64>,
    /// Block time of the embedded chain with --network devnet (50ms..1h, as for
    /// `regpow devnet --block-time`).
    #[arg(long, value_parser = parse_block_time, default_value = "1s")]
    pub devnet_block_time: std::time::Duration,
    /// Serve Prometheus metrics on `/metrics` at this address: `9108` (a port on loopback),
    /// `127.0.0.1:9108`, or `0.0.0.0:9108` to be scraped from other hosts.
    #[arg(long, value_name = "ADDR", value_parser = parse_metrics_addr)]
    pub metrics: Option<std::net::SocketAddr>,
}

/// `regpow farm`.
#[derive(Debug, Args)]
pub struct FarmArgs {
    /// The plan: jobs of hotkeys × subnets (see the README).
    #[arg(long, value_name = "FILE")]
    pub config: std::path::PathBuf,
    /// finney, test, local, devnet or a ws:// / wss:// URL (default: the plan's `network`,
    /// else finney).
    #[arg(long, value_parser = parse_network)]
    pub network: Option<Network>,
    /// Accept a ws:// (unencrypted) URL to another machine (see `regpow register --help`).
    #[arg(long)]
    pub allow_insecure_ws: bool,
    /// Refuse to sign unless the node serves this chain: finney, test, or a genesis hash
    /// (default: the plan's `expect_chain`; see `regpow register --help`).
    #[arg(long, value_name = "CHAIN", value_parser = parse_chain_pin)]
    pub expect_chain: Option<ChainPin>,
    /// Only the targets of shard I of N (`--shard 0/4`): each (hotkey, netuid) belongs to
    /// exactly one shard, so N processes on the same plan never overlap.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<regpow_registrar::farm::Shard>,
    /// Serve Prometheus metrics on `/metrics` at this address: `9108` (a port on loopback),
    /// `127.0.0.1:9108`, or `0.0.0.0:9108` to be scraped from other hosts.
    #[arg(long, value_name = "ADDR", value_parser = parse_metrics_addr)]
    pub metrics: Option<std::net::SocketAddr>,
    /// Write the metrics URL (the address actually bound: with port 0, a free one) to this
    /// file once serving, for a scraper's service discovery.
    #[arg(long, value_name = "PATH", requires = "metrics")]
    pub metrics_url_file: Option<std::path::PathBuf>,
    /// Append one JSON line per submission and outcome to this file (synced to disk).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<std::path::PathBuf>,
    /// Stop after this many seconds (exit 1 if targets remain).
    #[arg(long, value_parser = parse_seconds)]
    pub max_seconds: Option<f64>,
    /// A standing farm: keep running once every target is settled (until Ctrl-C or
    /// --max-seconds), re-checking skipped targets and re-registering pruned hotkeys.
    #[arg(long)]
    pub keep_running: bool,
    /// Use coldkey files that other users can read (refused by default).
    #[arg(long)]
    pub allow_insecure_keyfile: bool,
    /// Submissions of one coldkey in flight at once (1..64): several let one coldkey land
    /// registrations on several subnets in the same block; 1 signs one at a time.
    #[arg(long, value_name = "N", default_value_t = regpow_chain::submitter::DEFAULT_IN_FLIGHT,
          value_parser = parse_in_flight)]
    pub in_flight: usize,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Block time of the embedded chain with --network devnet.
    #[arg(long, value_parser = parse_block_time, default_value = "1s")]
    pub devnet_block_time: std::time::Duration,
}

/// A metrics address: `HOST:PORT`, or a bare port on loopback.
fn parse_metrics_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(port) = s.trim().parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.trim().parse().map_err(|_| {
        format!(
            "{} is not a port or an IP:PORT address (e.g. 127.0.0.1:9108)",
            quoted_input(s)
        )
    })
}

fn parse_in_flight(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n @ 1..=64) => Ok(n),
        _ => Err(format!("{} is not a number from 1 to 64", quoted_input(s))),
    }
}

fn parse_shard(s: &str) -> Result<regpow_registrar::farm::Shard, String> {
    regpow_registrar::farm::Shard::parse(s)
}

/// `regpow status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Also show whether this hotkey (SS58 or 0x-hex) holds a uid.
    #[arg(long, value_parser = parse_hotkey)]
    pub hotkey: Option<PublicKey>,
}

/// `regpow devnet`.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// TCP port on 127.0.0.1 (0 = any free port; the URL is printed first).
    #[arg(long)]
    pub port: Option<u16>,
    /// Time between blocks, e.g. `500ms` or `12s`: 50ms..1h (default 12s).
    #[arg(long, value_parser = parse_block_time)]
    pub block_time: Option<std::time::Duration>,
    /// TOML file with subnets, block time and port (see the README).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Final blocks whose state is kept for queries (newer ones always keep theirs), or
    /// `archive` for every block (default 256, as a node); older blocks keep their headers
    /// and bodies.
    #[arg(long, value_name = "N|archive", value_parser = parse_state_pruning)]
    pub state_pruning: Option<regpow_devnet::config::StatePruning>,
    /// Which RPC methods to serve, as a node's `--rpc-methods`: `safe` (default) or `unsafe`
    /// (also author_removeExtrinsic, state_getKeys and state_getPairs).
    #[arg(long, value_enum, default_value = "safe")]
    pub rpc_methods: RpcMethodsArg,
    /// Connections served at once, as a node's `--rpc-max-connections` (1..65536).
    #[arg(long, value_name = "N", default_value_t = regpow_devnet::config::DEFAULT_RPC_MAX_CONNECTIONS)]
    pub rpc_max_connections: u32,
    /// Close a connection that has sent no request for this long and holds no
    /// subscription, e.g. `90s` or `10m` (1s..1day), so quiet clients cannot hold every slot.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_idle_timeout)]
    pub rpc_idle_timeout: std::time::Duration,
    /// Blocks between the best block and the newest final one, as GRANDPA lags the best
    /// block (0..64, default 3); only blocks above it can be re-organised away.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=i64::from(regpow_devnet::config::MAX_FINALITY_LAG)))]
    pub finality_lag: Option<u32>,
}

/// `--rpc-methods`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RpcMethodsArg {
    /// The safe methods only.
    Safe,
    /// Every method.
    Unsafe,
}

/// What a seal is bound to.
#[derive(Debug, Args)]
pub struct ChallengeArgs {
    /// Subnet id (1..65535; 0 is the root subnet, where PoW registration is refused).
    #[arg(long, value_parser = parse_netuid)]
    pub netuid: u16,
    /// Hash of the work block, 0x + 64 hex digits.
    #[arg(long, value_parser = parse_block_hash)]
    pub block_hash: [u8; 32],
    /// Hotkey: SS58 address or 0x-hex public key.
    #[arg(long, value_parser = parse_hotkey)]
    pub hotkey: PublicKey,
    /// Coldkey (signs pow_register): SS58 address or 0x-hex public key.
    #[arg(long, value_parser = parse_coldkey)]
    pub coldkey: PublicKey,
}

impl ChallengeArgs {
    /// The challenge these flags describe (netuid 0 was already refused by the parser).
    pub fn challenge(&self) -> Challenge {
        Challenge::new(self.netuid, self.block_hash, self.hotkey, self.coldkey)
            .expect("netuid validated by the parser")
    }
}

/// `regpow seal`.
#[derive(Debug, Args)]
pub struct SealArgs {
    #[command(flatten)]
    pub challenge: ChallengeArgs,
    /// The nonce (decimal or 0x-hex u64).
    #[arg(long, value_parser = parse_u64)]
    pub nonce: u64,
}

/// `regpow verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub challenge: ChallengeArgs,
    /// The nonce (decimal or 0x-hex u64).
    #[arg(long, value_parser = parse_u64)]
    pub nonce: u64,
    /// The difficulty the seal must meet (at least 1).
    #[arg(long)]
    pub difficulty: Difficulty,
    /// A claimed seal to compare with the computed one (as `work` in the extrinsic).
    #[arg(long, value_parser = parse_seal)]
    pub seal: Option<[u8; 32]>,
}

/// Most CPU threads `--threads` takes.
pub const MAX_THREADS: i64 = 1024;

/// Which backend searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// NVIDIA GPUs through CUDA if present, else other GPUs through wgpu, else the CPU.
    Auto,
    /// CPU threads with the best SIMD kernel.
    Cpu,
    /// The WGSL kernel on Vulkan, Metal, DX12 or GL adapters (any GPU vendor).
    Wgpu,
    /// The CUDA kernel on NVIDIA GPUs (needs the NVIDIA driver and NVRTC).
    Cuda,
}

/// Keccak lane representation in the WGSL kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GpuLanes {
    /// 64-bit lanes where the adapter offers them, otherwise u32 pairs.
    Auto,
    /// (lo, hi) pairs of u32: every adapter.
    U32,
    /// Native 64-bit integers: adapters with SHADER_INT64 only.
    U64,
}

/// Flags shared by commands that hash.
#[derive(Debug, Args)]
pub struct BackendArgs {
    /// Backends to search with, comma-separated: `auto` alone, or any of `cpu`, `cuda` and
    /// `wgpu` with at most one GPU backend (CUDA and Vulkan see the same cards), e.g.
    /// `--backend cpu,cuda` hashes on the CPU and every NVIDIA GPU together.
    #[arg(long, value_enum, value_delimiter = ',', num_args = 1.., default_value = "auto")]
    pub backend: Vec<BackendChoice>,
    /// CPU threads, 1..=1024 (default: all logical CPUs). More threads than logical CPUs
    /// only slow the search down, and thousands take long to start.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    pub threads: Option<u16>,
    /// Force a CPU kernel: scalar, avx2, avx2-shani or avx512 (default: the fastest on this
    /// CPU, measured at start-up).
    #[arg(long)]
    pub cpu_kernel: Option<CpuKernel>,
    /// GPU devices to use, by index from `regpow devices` for the chosen backend (default:
    /// every GPU).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub device: Option<Vec<usize>>,
    /// Nonces per GPU dispatch or launch (default: tuned per device and kept at 20 ms per
    /// dispatch as its speed changes; up to 75 ms where each dispatch has a large fixed cost).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub gpu_batch: Option<u32>,
    /// Keccak lanes in the WGSL kernel.
    #[arg(long, value_enum, default_value_t = GpuLanes::Auto)]
    pub gpu_lanes: GpuLanes,
}

/// `regpow solve`.
#[derive(Debug, Args)]
pub struct SolveArgs {
    #[command(flatten)]
    pub challenge: ChallengeArgs,
    /// The difficulty the seal must meet (at least 1).
    #[arg(long)]
    pub difficulty: Difficulty,
    /// First nonce to try; the search runs upward from here.
    #[arg(long, value_parser = parse_u64, default_value_t = 0)]
    pub start_nonce: u64,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Give up after this many seconds (exit 1).
    #[arg(long, value_parser = parse_seconds)]
    pub timeout: Option<f64>,
}

/// `regpow bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    /// How long to measure.
    #[arg(long, value_parser = parse_seconds, default_value_t = 5.0)]
    pub seconds: f64,
    /// Random challenges hashed at once, sharing the devices equally (what a farm's
    /// targets cost against one registration's).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
}

fn parse_netuid(s: &str) -> Result<u16, String> {
    let n: u16 = s.trim().parse().map_err(|_| {
        format!(
            "netuid must be an integer 1..65535, got {}",
            quoted_input(s)
        )
    })?;
    Challenge::new(n, [0; 32], PublicKey([0; 32]), PublicKey([0; 32]))
        .map(|_| n)
        .map_err(|e| e.to_string())
}

fn parse_block_hash(s: &str) -> Result<[u8; 32], String> {
    parse_hex32("block hash", s).map_err(|e| e.to_string())
}

fn parse_seal(s: &str) -> Result<[u8; 32], String> {
    parse_hex32("seal", s).map_err(|e| e.to_string())
}

fn parse_hotkey(s: &str) -> Result<PublicKey, String> {
    PublicKey::parse("hotkey", s).map_err(|e| e.to_string())
}

fn parse_coldkey(s: &str) -> Result<PublicKey, String> {
    PublicKey::parse("coldkey", s).map_err(|e| e.to_string())
}

/// A nonce: a u64 in decimal (underscores allowed) or 0x-hex.
fn parse_u64(s: &str) -> Result<u64, String> {
    regpow_rules::keys::parse_u64("nonce", s).map_err(|e| e.to_string())
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('s').parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1e9 => Ok(v),
        _ => Err(format!(
            "expected a positive number of seconds, got {}",
            quoted_input(s)
        )),
    }
}

fn parse_network(s: &str) -> Result<Network, String> {
    Network::parse(s).map_err(|e| e.to_string())
}

fn parse_chain_pin(s: &str) -> Result<ChainPin, String> {
    ChainPin::parse(s).map_err(|e| e.to_string())
}

/// `archive` or a number of blocks (at least 1).
fn parse_state_pruning(s: &str) -> Result<regpow_devnet::config::StatePruning, String> {
    s.parse().map_err(|e: regpow_devnet::config::ConfigError| {
        e.to_string()
            .trim_start_matches("devnet config: ")
            .to_string()
    })
}

/// A block time within the devnet's bounds (the same check as its config file's).
fn parse_idle_timeout(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!(
            "{} is not a duration such as 90s or 10m ({e})",
            quoted_input(s)
        )
    })
}

fn parse_block_time(s: &str) -> Result<std::time::Duration, String> {
    use regpow_devnet::config::ConfigError;
    regpow_devnet::config::parse_block_time(s).map_err(|e| match e {
        ConfigError::Invalid(why) | ConfigError::Parse(why) => why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metrics_port_alone_is_loopback() {
        assert_eq!(
            parse_metrics_addr("9108"),
            Ok(std::net::SocketAddr::from(([127, 0, 0, 1], 9108)))
        );
        assert_eq!(
            parse_metrics_addr("0.0.0.0:9108"),
            Ok(std::net::SocketAddr::from(([0, 0, 0, 0], 9108)))
        );
        assert!(parse_metrics_addr("[::1]:9108").is_ok());
        for bad in ["99999", "localhost:9108", "", "127.0.0.1"] {
            assert!(parse_metrics_addr(bad).is_err(), "{bad}");
        }
    }
}
