//! Devnet configuration: subnets, block time and port, from a TOML file and flags.
//!
//! ```toml
//! block_time = "500ms"
//! port = 0                      # 0 = pick a free port
//! dev_accounts = ["Alice", "Bob"]   # funded at genesis (default: Alice … Ferdie)
//! dev_balance_tao = 1000000
//!
//! [[subnet]]
//! netuid = 1
//! pow_enabled = true
//! difficulty = 10000
//! min_difficulty = 1
//! max_difficulty = 18446744073709551615
//! max_uids = 256
//! max_registrations_per_block = 3
//! burn_half_life = 360
//! burn_increase_mult = 1.26
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::accounts::{dev_account, DEV_ACCOUNTS};
use thiserror::Error;

/// Why a configuration cannot be used (each one line, for exit code 2).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The TOML could not be read or parsed.
    #[error("devnet config: {0}")]
    Parse(String),
    /// A value is out of range or inconsistent.
    #[error("devnet config: {0}")]
    Invalid(String),
}

/// One subnet as the devnet creates it at genesis.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// Subnet id (1..65535; 0 is root and always exists without PoW).
    pub netuid: u16,
    /// `NetworkPowRegistrationAllowed`.
    #[serde(default = "yes")]
    pub pow_enabled: bool,
    /// Starting `Difficulty`.
    #[serde(default = "default_difficulty")]
    pub difficulty: u64,
    /// `MinDifficulty`.
    #[serde(default = "one")]
    pub min_difficulty: u64,
    /// `MaxDifficulty`.
    #[serde(default = "max_u64")]
    pub max_difficulty: u64,
    /// `MaxAllowedUids`.
    #[serde(default = "default_max_uids")]
    pub max_uids: u16,
    /// `MaxRegistrationsPerBlock`.
    #[serde(default = "default_max_regs")]
    pub max_registrations_per_block: u16,
    /// `BurnHalfLife`: blocks for the difficulty to decay by half.
    #[serde(default = "default_half_life")]
    pub burn_half_life: u16,
    /// `BurnIncreaseMult`: factor applied to the difficulty after each PoW registration.
    #[serde(default = "default_mult")]
    pub burn_increase_mult: f64,
}

fn yes() -> bool {
    true
}
fn one() -> u64 {
    1
}
fn max_u64() -> u64 {
    u64::MAX
}
fn default_difficulty() -> u64 {
    10_000
}
fn default_max_uids() -> u16 {
    256
}
fn default_max_regs() -> u16 {
    3
}
fn default_half_life() -> u16 {
    360
}
fn default_mult() -> f64 {
    1.26
}

impl SubnetConfig {
    /// A subnet with every default and the given netuid and PoW flag.
    pub fn new(netuid: u16, pow_enabled: bool) -> Self {
        Self {
            netuid,
            pow_enabled,
            difficulty: default_difficulty(),
            min_difficulty: one(),
            max_difficulty: max_u64(),
            max_uids: default_max_uids(),
            max_registrations_per_block: default_max_regs(),
            burn_half_life: default_half_life(),
            burn_increase_mult: default_mult(),
        }
    }
}

/// Everything the devnet needs to start.
#[derive(Clone, Debug, PartialEq)]
pub struct DevnetConfig {
    /// Time between blocks.
    pub block_time: Duration,
    /// TCP port on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Subnets at genesis.
    pub subnets: Vec<SubnetConfig>,
    /// Development accounts (`Alice` … `Ferdie`) funded at genesis.
    pub dev_accounts: Vec<String>,
    /// Free balance of each funded development account, in TAO.
    pub dev_balance_tao: u64,
}

impl Default for DevnetConfig {
    /// netuid 1 with PoW (difficulty 10000, 256 uids, 3 registrations per block) and
    /// netuid 2 without, 12-second blocks, a free port.
    fn default() -> Self {
        Self {
            block_time: Duration::from_secs(12),
            port: 0,
            subnets: vec![SubnetConfig::new(1, true), SubnetConfig::new(2, false)],
            dev_accounts: DEV_ACCOUNTS.iter().map(|(n, _)| n.to_string()).collect(),
            dev_balance_tao: 1_000_000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    block_time: Option<String>,
    port: Option<u16>,
    #[serde(default)]
    subnet: Vec<SubnetConfig>,
    dev_accounts: Option<Vec<String>>,
    dev_balance_tao: Option<u64>,
}

impl DevnetConfig {
    /// Reads a TOML configuration; anything it leaves out keeps the defaults (a file with
    /// `[[subnet]]` tables replaces the default subnets).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file: FileConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.message().replace('\n', " ")))?;
        let mut config = Self::default();
        if let Some(t) = file.block_time {
            config.block_time = parse_block_time(&t)?;
        }
        if let Some(port) = file.port {
            config.port = port;
        }
        if !file.subnet.is_empty() {
            config.subnets = file.subnet;
        }
        if let Some(accounts) = file.dev_accounts {
            config.dev_accounts = accounts;
        }
        if let Some(balance) = file.dev_balance_tao {
            config.dev_balance_tao = balance;
        }
        config.validate()?;
        Ok(config)
    }

    /// Public keys of the funded development accounts.
    pub fn funded_accounts(&self) -> impl Iterator<Item = [u8; 32]> + '_ {
        self.dev_accounts
            .iter()
            .filter_map(|name| dev_account(name))
    }

    /// Checks ranges and consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(unknown) = self.dev_accounts.iter().find(|n| dev_account(n).is_none()) {
            return Err(ConfigError::Invalid(format!(
                "dev account '{unknown}' is not one of Alice, Bob, Charlie, Dave, Eve, Ferdie"
            )));
        }
        if self.block_time < Duration::from_millis(50) {
            return Err(ConfigError::Invalid(
                "block_time must be at least 50ms".into(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.subnets {
            let bad =
                |why: String| Err(ConfigError::Invalid(format!("subnet {}: {why}", s.netuid)));
            if s.netuid == 0 {
                return bad("netuid 0 is the root subnet and cannot be configured".into());
            }
            if !seen.insert(s.netuid) {
                return bad("listed twice".into());
            }
            if s.difficulty == 0 || s.min_difficulty == 0 {
                return bad("difficulties must be at least 1".into());
            }
            if s.min_difficulty > s.max_difficulty {
                return bad("min_difficulty is above max_difficulty".into());
            }
            if s.burn_half_life == 0 {
                return bad("burn_half_life must be at least 1".into());
            }
            if !(s.burn_increase_mult.is_finite() && s.burn_increase_mult >= 1.0) {
                return bad("burn_increase_mult must be a number >= 1".into());
            }
        }
        Ok(())
    }
}

/// `500ms`, `12s`, `1m` (humantime syntax).
pub fn parse_block_time(text: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text.trim())
        .map_err(|e| ConfigError::Invalid(format!("block time '{text}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_issue() {
        let c = DevnetConfig::default();
        assert_eq!(c.subnets.len(), 2);
        let s1 = &c.subnets[0];
        assert_eq!(
            (s1.netuid, s1.pow_enabled, s1.difficulty),
            (1, true, 10_000)
        );
        assert_eq!((s1.max_uids, s1.max_registrations_per_block), (256, 3));
        assert_eq!((c.subnets[1].netuid, c.subnets[1].pow_enabled), (2, false));
        assert_eq!(c.block_time, Duration::from_secs(12));
    }

    #[test]
    fn toml_overrides_and_validates() {
        let c = DevnetConfig::from_toml(
            "block_time = \"300ms\"\nport = 9944\n[[subnet]]\nnetuid = 7\ndifficulty = 50\n",
        )
        .unwrap();
        assert_eq!(c.block_time, Duration::from_millis(300));
        assert_eq!(c.port, 9944);
        assert_eq!(
            c.subnets,
            vec![SubnetConfig {
                difficulty: 50,
                ..SubnetConfig::new(7, true)
            }]
        );

        for (text, want) in [
            ("[[subnet]]\nnetuid = 0\n", "root subnet"),
            (
                "[[subnet]]\nnetuid = 3\n[[subnet]]\nnetuid = 3\n",
                "listed twice",
            ),
            ("[[subnet]]\nnetuid = 3\ndifficulty = 0\n", "at least 1"),
            ("block_time = \"5ms\"\n", "at least 50ms"),
            ("block_time = \"soon\"\n", "block time 'soon'"),
            ("colour = 1\n", "unknown field"),
            ("dev_accounts = [\"Mallory\"]\n", "dev account 'Mallory'"),
        ] {
            let err = DevnetConfig::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
