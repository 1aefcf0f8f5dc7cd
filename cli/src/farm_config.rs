//! The farm's plan, `farm.toml`:
//!
//! ```toml
//! network = "finney"                 # or --network
//! # expect_chain = "finney"          # or --expect-chain: the genesis the node must have
//! [[job]]
//! netuids = [1, 3]
//! wallet_name = "farm"               # bittensor wallet layout (wallet_path optional) …
//! wallet_hotkeys = ["h1", "h2"]      # … and/or hotkeys = ["5F…", "5G…"]
//! # coldkey_uri = "//Alice"          # dev chains only
//! max_difficulty = 1_000_000_000_000 # optional: wait while a subnet is harder
//! weight = 1                         # optional: share of the devices
//! ```
//!
//! Every (hotkey, netuid) pair of every job is a target. Every mistake is reported, one per
//! bad line, as `FILE:LINE: job[N].KEY: what is wrong`, and nothing runs (exit 2).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use regpow_chain::network::ChainPin;
use regpow_chain::wallet::{check_private, SecretUri, WalletError};
use regpow_chain::Network;
use regpow_rules::PublicKey;
use serde::Deserialize;
use toml::Spanned;
use zeroize::Zeroizing;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    network: Option<Spanned<String>>,
    expect_chain: Option<Spanned<String>>,
    #[serde(default)]
    job: Vec<Spanned<RawJob>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    netuids: Option<Spanned<Vec<Spanned<i64>>>>,
    wallet_name: Option<Spanned<String>>,
    wallet_path: Option<Spanned<String>>,
    wallet_hotkeys: Option<Spanned<Vec<Spanned<String>>>>,
    hotkeys: Option<Spanned<Vec<Spanned<String>>>>,
    coldkey_uri: Option<Spanned<SecretUri>>,
    max_difficulty: Option<Spanned<i64>>,
    weight: Option<Spanned<i64>>,
}

/// Who signs a job's registrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColdkeySource {
    /// A secret URI (`coldkey_uri`).
    Uri(SecretUri),
    /// The coldkey of wallet `name` under `root`.
    Wallet {
        /// The wallets folder.
        root: PathBuf,
        /// The wallet.
        name: String,
    },
}

/// Where a hotkey comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HotkeySource {
    /// Given as an address.
    Key(PublicKey),
    /// The wallet's hotkey file of this name.
    Wallet(String),
}

/// One `[[job]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FarmJob {
    /// 1-based, for messages.
    pub number: usize,
    /// Line of its `[[job]]` header.
    pub line: usize,
    /// Subnets.
    pub netuids: Vec<u16>,
    /// Hotkeys.
    pub hotkeys: Vec<HotkeySource>,
    /// Signer.
    pub coldkey: ColdkeySource,
    /// The wallet (folder, name) whose hotkey files `wallet_hotkeys` names.
    pub wallet: Option<(PathBuf, String)>,
    /// Wait while a subnet is harder than this.
    pub max_difficulty: Option<u64>,
    /// Share of the devices.
    pub weight: u32,
}

/// The plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FarmPlan {
    /// `network`, if the file names one.
    pub network: Option<Network>,
    /// `expect_chain`: the chain the node must serve, if the file names one.
    pub expect_chain: Option<ChainPin>,
    /// The jobs, in file order.
    pub jobs: Vec<FarmJob>,
}

/// Largest plan read: ten thousand jobs of a hundred hotkeys fit in a few MiB.
const MAX_PLAN_LEN: u64 = 64 << 20;

/// Reads and checks `path`; every problem is one line of the error list. A plan that holds
/// a secret (`coldkey_uri` with a mnemonic, a seed or a password) must be a file only its
/// owner can read, like a keyfile (unless `allow_insecure`).
pub fn load(path: &Path, allow_insecure: bool) -> Result<FarmPlan, Vec<String>> {
    use std::io::Read;
    let cannot = |e: std::io::Error| vec![format!("{}: cannot read: {e}", path.display())];
    let file = std::fs::File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    let mut text = Zeroizing::new(String::with_capacity(meta.len().min(MAX_PLAN_LEN) as usize));
    file.take(MAX_PLAN_LEN + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_PLAN_LEN {
        return Err(vec![format!(
            "{}: larger than {} MiB, not a plan",
            path.display(),
            MAX_PLAN_LEN >> 20
        )]);
    }
    let plan = parse(&path.display().to_string(), &text)?;
    let secret = plan.jobs.iter().find(|job| match &job.coldkey {
        ColdkeySource::Uri(uri) => uri.carries_secret(),
        ColdkeySource::Wallet { .. } => false,
    });
    if let Some(job) = secret {
        check_private(path, &meta, allow_insecure).map_err(|e| {
            vec![match e {
                WalletError::InsecurePermissions { .. } => format!(
                    "{}:{}: job[{}].coldkey_uri holds a secret, and {e} (or pass \
                     --allow-insecure-keyfile)",
                    path.display(),
                    job.line,
                    job.number
                ),
                other => format!(
                    "{}:{}: job[{}].coldkey_uri holds a secret: {other}",
                    path.display(),
                    job.line,
                    job.number
                ),
            }]
        })?;
    }
    Ok(plan)
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Checks the plan in `text` (read from `file`).
pub fn parse(file: &str, text: &str) -> Result<FarmPlan, Vec<String>> {
    let raw: RawPlan = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |span| line_of(text, span.start));
        vec![format!("{file}:{line}: {}", e.message().trim())]
    })?;
    let mut errors = Vec::new();
    let mut error = |span: Range<usize>, key: &str, what: String| {
        let line = line_of(text, span.start);
        errors.push((line, format!("{file}:{line}: {key}: {what}")));
    };
    let network = raw.network.as_ref().and_then(|n| {
        Network::parse(n.get_ref())
            .map_err(|e| error(n.span(), "network", e.to_string()))
            .ok()
    });
    let expect_chain = raw.expect_chain.as_ref().and_then(|n| {
        ChainPin::parse(n.get_ref())
            .map_err(|e| error(n.span(), "expect_chain", e.to_string()))
            .ok()
    });
    if raw.job.is_empty() {
        error(0..0, "job", "the plan has no [[job]]".into());
    }
    let mut jobs = Vec::new();
    for (index, job) in raw.job.iter().enumerate() {
        let number = index + 1;
        let key = |name: &str| format!("job[{number}].{name}");
        let header = job.span();
        let job = job.get_ref();
        let mut netuids = Vec::new();
        match &job.netuids {
            None => error(
                header.clone(),
                &key("netuids"),
                "missing (e.g. netuids = [1])".into(),
            ),
            Some(list) if list.get_ref().is_empty() => {
                error(list.span(), &key("netuids"), "is empty".into())
            }
            Some(list) => {
                for netuid in list.get_ref() {
                    match u16::try_from(*netuid.get_ref()) {
                        Ok(n) if n >= 1 => netuids.push(n),
                        _ => error(
                            netuid.span(),
                            &key("netuids"),
                            format!("{} is not a subnet (1..65535)", netuid.get_ref()),
                        ),
                    }
                }
            }
        }
        let mut hotkeys = Vec::new();
        if let Some(list) = &job.hotkeys {
            for hotkey in list.get_ref() {
                match PublicKey::parse("hotkey", hotkey.get_ref()) {
                    Ok(key) => hotkeys.push(HotkeySource::Key(key)),
                    Err(e) => error(hotkey.span(), &key("hotkeys"), e.to_string()),
                }
            }
        }
        if let Some(list) = &job.wallet_hotkeys {
            if job.wallet_name.is_none() {
                error(
                    list.span(),
                    &key("wallet_hotkeys"),
                    "needs wallet_name".into(),
                );
            }
            for name in list.get_ref() {
                if name.get_ref().is_empty() || name.get_ref().contains(['/', '\\']) {
                    error(
                        name.span(),
                        &key("wallet_hotkeys"),
                        format!("{:?} is not a hotkey name", name.get_ref()),
                    );
                } else {
                    hotkeys.push(HotkeySource::Wallet(name.get_ref().clone()));
                }
            }
        }
        if job.hotkeys.is_none() && job.wallet_hotkeys.is_none() {
            error(
                header.clone(),
                &key("hotkeys"),
                "no hotkeys (set hotkeys or wallet_hotkeys)".into(),
            );
        }
        let root = job
            .wallet_path
            .as_ref()
            .map(|p| expand_home(p.get_ref()))
            .unwrap_or_else(regpow_chain::wallet::Wallet::default_root);
        if let Some(name) = &job.wallet_name {
            if name.get_ref().is_empty() || name.get_ref().contains(['/', '\\']) {
                error(
                    name.span(),
                    &key("wallet_name"),
                    format!("{:?} is not a wallet name", name.get_ref()),
                );
            }
        }
        let wallet = job
            .wallet_name
            .as_ref()
            .map(|name| (root.clone(), name.get_ref().clone()));
        // coldkey_uri signs when given (the wallet then only names hotkeys).
        let coldkey = match (&job.coldkey_uri, &job.wallet_name) {
            (Some(uri), _) => ColdkeySource::Uri(uri.get_ref().clone()),
            (None, Some(name)) => ColdkeySource::Wallet {
                root: root.clone(),
                name: name.get_ref().clone(),
            },
            (None, None) => {
                error(
                    header.clone(),
                    &key("wallet_name"),
                    "no coldkey (set wallet_name or coldkey_uri)".into(),
                );
                ColdkeySource::Uri(SecretUri::new(String::new()))
            }
        };
        let max_difficulty = job.max_difficulty.as_ref().and_then(|m| {
            u64::try_from(*m.get_ref())
                .ok()
                .filter(|&m| m >= 1)
                .or_else(|| {
                    error(
                        m.span(),
                        &key("max_difficulty"),
                        format!("{} is not a difficulty (at least 1)", m.get_ref()),
                    );
                    None
                })
        });
        let weight = match &job.weight {
            None => 1,
            Some(w) => u32::try_from(*w.get_ref())
                .ok()
                .filter(|&w| (1..=1_000_000).contains(&w))
                .unwrap_or_else(|| {
                    error(
                        w.span(),
                        &key("weight"),
                        format!("{} is not a weight (1..1000000)", w.get_ref()),
                    );
                    1
                }),
        };
        jobs.push(FarmJob {
            number,
            line: line_of(text, header.start),
            netuids,
            hotkeys,
            coldkey,
            wallet,
            max_difficulty,
            weight,
        });
    }
    if errors.is_empty() {
        Ok(FarmPlan {
            network,
            expect_chain,
            jobs,
        })
    } else {
        // In file order, as a reader fixes them.
        errors.sort_by_key(|(line, _)| *line);
        Err(errors.into_iter().map(|(_, text)| text).collect())
    }
}

/// `~/…` under the home folder, as bittensor writes wallet paths.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Each (hotkey, netuid) pair once: a pair in two jobs is refused with both lines.
pub fn duplicate_targets(file: &str, targets: &[(PublicKey, u16, usize)]) -> Vec<String> {
    let mut first: BTreeMap<([u8; 32], u16), usize> = BTreeMap::new();
    let mut errors = Vec::new();
    for &(hotkey, netuid, line) in targets {
        if let Some(earlier) = first.insert((hotkey.0, netuid), line) {
            errors.push(format!(
                "{file}:{line}: job: hotkey {} on subnet {netuid} is already a target (line {earlier})",
                hotkey.to_ss58(42)
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    #[test]
    fn a_full_plan_reads() {
        let text = format!(
            "network = \"ws://127.0.0.1:9944\"\nexpect_chain = \"test\"\n[[job]]\nnetuids = [1, 3]\nwallet_name = \"farm\"\nwallet_path = \"/tmp/w\"\nwallet_hotkeys = [\"h1\", \"h2\"]\nhotkeys = [\"{ALICE}\"]\nmax_difficulty = 1_000_000_000_000\nweight = 2\n\n[[job]]\nnetuids = [2]\nhotkeys = [\"{ALICE}\"]\ncoldkey_uri = \"//Bob\"\n"
        );
        let plan = parse("farm.toml", &text).unwrap();
        assert_eq!(
            plan.expect_chain,
            Some(ChainPin::Known(regpow_chain::network::KnownChain::Test))
        );
        assert_eq!(plan.jobs.len(), 2);
        let job = &plan.jobs[0];
        assert_eq!(job.netuids, vec![1, 3]);
        assert_eq!(job.hotkeys.len(), 3);
        assert_eq!(job.max_difficulty, Some(1_000_000_000_000));
        assert_eq!(job.weight, 2);
        assert_eq!(
            job.coldkey,
            ColdkeySource::Wallet {
                root: "/tmp/w".into(),
                name: "farm".into()
            }
        );
        assert_eq!(
            plan.jobs[1].coldkey,
            ColdkeySource::Uri(SecretUri::new("//Bob".into()))
        );
        assert_eq!(plan.jobs[1].line, 12);
    }

    #[test]
    fn every_bad_line_is_one_error_naming_file_line_and_key() {
        let text = "[[job]]\nnetuids = [0, 70000]\nhotkeys = [\"nope\"]\ncoldkey_uri = \"//Alice\"\nweight = 0\nmax_difficulty = -5\n";
        let errors = parse("farm.toml", text).unwrap_err();
        let expected = [
            "farm.toml:2: job[1].netuids: 0 is not a subnet",
            "farm.toml:2: job[1].netuids: 70000 is not a subnet",
            "farm.toml:3: job[1].hotkeys:",
            "farm.toml:5: job[1].weight: 0 is not a weight",
            "farm.toml:6: job[1].max_difficulty: -5 is not a difficulty",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, start) in errors.iter().zip(expected) {
            assert!(
                error.starts_with(start),
                "{error} should start with {start}"
            );
        }
    }

    #[test]
    fn syntax_and_unknown_keys_name_their_line() {
        let errors = parse("f.toml", "[[job]]\nnetuids = [1]\nhotkey = \"x\"\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("f.toml:3:"), "{}", errors[0]);
        assert!(errors[0].contains("hotkey"), "{}", errors[0]);
        let errors = parse("f.toml", "[[job]]\nnetuids = [1,\n").unwrap_err();
        assert!(errors[0].starts_with("f.toml:"), "{}", errors[0]);
        let errors =
            parse("f.toml", "network = \"nowhere\"\nexpect_chain = \"mars\"\n").unwrap_err();
        assert!(
            errors.iter().any(|e| e.starts_with("f.toml:1: network:")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("f.toml:2: expect_chain:")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("no [[job]]")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_job_needs_hotkeys_and_one_coldkey() {
        let errors = parse("f.toml", "[[job]]\nnetuids = [1]\n").unwrap_err();
        assert!(
            errors.iter().any(
                |e| e == "f.toml:1: job[1].hotkeys: no hotkeys (set hotkeys or wallet_hotkeys)"
            ),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("f.toml:1: job[1].wallet_name: no coldkey")),
            "{errors:?}"
        );
        let errors = parse(
            "f.toml",
            "[[job]]\nnetuids = [1]\nwallet_hotkeys = [\"a\"]\ncoldkey_uri = \"//A\"\n",
        )
        .unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("f.toml:3: job[1].wallet_hotkeys: needs wallet_name")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_target_in_two_jobs_is_refused() {
        let key = PublicKey::parse("hotkey", ALICE).unwrap();
        let errors = duplicate_targets("f.toml", &[(key, 1, 2), (key, 2, 2), (key, 1, 9)]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("f.toml:9: job: hotkey"),
            "{}",
            errors[0]
        );
        assert!(errors[0].ends_with("(line 2)"), "{}", errors[0]);
    }

    #[test]
    fn the_kubernetes_plan_reads() {
        let manifest = include_str!("../../deploy/kubernetes/configmap.yaml");
        let plan: String = manifest
            .lines()
            .skip_while(|l| !l.contains("farm.toml: |"))
            .skip(1)
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let plan = parse("configmap.yaml", &plan).unwrap();
        assert_eq!(plan.jobs.len(), 1);
        assert_eq!(plan.jobs[0].netuids, vec![1, 3]);
        assert_eq!(plan.jobs[0].hotkeys.len(), 2);
    }
}
