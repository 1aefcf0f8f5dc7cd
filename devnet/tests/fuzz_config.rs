//! Property-based fuzzing of the devnet's TOML configuration: any text never panics the
//! reader, any mutation of a valid file either parses into a configuration that passes
//! validation or is refused with one line naming the field (or the line) at fault, and
//! generated files with every value in range (u64 beyond TOML's i64 included) read back
//! exactly.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use regpow_devnet::DevnetConfig;

/// The README's example configuration, every field set.
const DOCUMENTED: &str = r#"block_time = "500ms"
port = 0                      # 0 = pick a free port
dev_accounts = ["Alice", "Bob"]   # funded at genesis
dev_balance_tao = 1000000

[[subnet]]
netuid = 1
pow_enabled = true
difficulty = 10000
min_difficulty = 1
max_difficulty = 18446744073709551615
max_uids = 256
max_registrations_per_block = 3
burn_half_life = 360
burn_increase_mult = 1.26
"#;

/// Every name an error may point at: the fields, the table, and the words validation uses.
const FIELDS: &[&str] = &[
    "block_time",
    "port",
    "dev_accounts",
    "dev account",
    "dev_balance_tao",
    "subnet",
    "netuid",
    "pow_enabled",
    "difficulty",
    "max_uids",
    "max_registrations_per_block",
    "burn_half_life",
    "burn_increase_mult",
];

fn config(cases: u32) -> Config {
    Config {
        rng_seed: RngSeed::Fixed(0xC0_FF1C),
        failure_persistence: None,
        ..Config::with_cases(cases)
    }
}

/// The result of reading `text`, checked against the rules every outcome must follow.
fn check(text: &str) -> Result<(), TestCaseError> {
    match DevnetConfig::from_toml(text) {
        Ok(config) => prop_assert_eq!(config.validate(), Ok(())),
        Err(e) => {
            let message = e.to_string();
            prop_assert!(message.starts_with("devnet config: "), "{}", message);
            prop_assert!(!message.contains('\n'), "more than one line: {}", message);
            let names_it = FIELDS.iter().any(|f| message.contains(f))
                || message.contains("line ")
                || message.contains("unknown field");
            prop_assert!(names_it, "names no field: {} (from {:?})", message, text);
        }
    }
    Ok(())
}

/// One edit of a text: delete, insert or replace a character, or swap a line's value.
#[derive(Clone, Debug)]
enum Mutation {
    Delete(prop::sample::Index),
    Insert(prop::sample::Index, char),
    Replace(prop::sample::Index, char),
    Value(prop::sample::Index, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let token = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9]{19,25}",
        "\"[a-z0-9 ]{0,8}\"",
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("nan".to_string()),
        Just(String::new()),
    ];
    let tricky = prop_oneof![
        any::<char>(),
        Just('='),
        Just('['),
        Just('"'),
        Just('#'),
        Just('\n'),
        Just('-'),
    ];
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Delete),
        (any::<prop::sample::Index>(), tricky.clone()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<prop::sample::Index>(), tricky).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<prop::sample::Index>(), token).prop_map(|(i, t)| Mutation::Value(i, t)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let chars: Vec<char> = text.chars().collect();
    match mutation {
        Mutation::Delete(i) if !chars.is_empty() => {
            let at = i.index(chars.len());
            chars[..at].iter().chain(&chars[at + 1..]).collect()
        }
        Mutation::Insert(i, c) => {
            let at = i.index(chars.len() + 1);
            chars[..at].iter().chain([c]).chain(&chars[at..]).collect()
        }
        Mutation::Replace(i, c) if !chars.is_empty() => {
            let mut chars = chars;
            let at = i.index(chars.len());
            chars[at] = *c;
            chars.into_iter().collect()
        }
        Mutation::Value(i, token) => {
            let lines: Vec<&str> = text.lines().collect();
            let at = i.index(lines.len());
            lines
                .iter()
                .enumerate()
                .map(|(n, line)| match line.split_once('=') {
                    Some((key, _)) if n == at => format!("{key}= {token}"),
                    _ => line.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => text.to_string(),
    }
}

#[test]
fn the_documented_configuration_reads() {
    let config = DevnetConfig::from_toml(DOCUMENTED).unwrap();
    assert_eq!(config.block_time, Duration::from_millis(500));
    assert_eq!(config.subnets[0].max_difficulty, u64::MAX);
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_text_never_panics(text in any::<String>()) {
        let _ = DevnetConfig::from_toml(&text);
    }

    #[test]
    fn toml_looking_text_is_read_or_refused_naming_a_field(
        lines in prop::collection::vec("[a-z_]{1,12} ?= ?[-0-9a-z\"\\[\\]., ]{0,24}|\\[\\[subnet\\]\\]|\\[[a-z]{0,6}\\]?", 0..8),
    ) {
        check(&lines.join("\n"))?;
    }

    #[test]
    fn mutations_of_the_documented_file_are_read_or_refused_naming_a_field(
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let text = mutations.iter().fold(DOCUMENTED.to_string(), |t, m| apply(&t, m));
        check(&text)?;
    }
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn generated_files_read_back_exactly(
        block_ms in 50u64..=3_600_000,
        port in any::<u16>(),
        netuid in 1u16..,
        difficulty in 1u64..,
        min in 1u64..1000,
        max_above_min in any::<u64>(),
        quoted in any::<bool>(),
        balance in any::<u64>(),
        max_uids in any::<u16>(),
        per_block in any::<u16>(),
        half_life in 1u16..,
        mult in 1.0f64..10.0,
    ) {
        let max = min.saturating_add(max_above_min);
        let big = |n: u64| if quoted { format!("\"{n}\"") } else { n.to_string() };
        let text = format!(
            "block_time = \"{block_ms}ms\"\nport = {port}\ndev_balance_tao = {}\n\
             [[subnet]]\nnetuid = {netuid}\ndifficulty = {}\nmin_difficulty = {min}\n\
             max_difficulty = {}\nmax_uids = {max_uids}\nmax_registrations_per_block = {per_block}\n\
             burn_half_life = {half_life}\nburn_increase_mult = {mult:?}\n",
            big(balance), big(difficulty), big(max),
        );
        let config = DevnetConfig::from_toml(&text).unwrap();
        prop_assert_eq!(config.block_time, Duration::from_millis(block_ms));
        prop_assert_eq!(config.port, port);
        prop_assert_eq!(config.dev_balance_tao, balance);
        let s = &config.subnets[0];
        prop_assert_eq!(
            (s.netuid, s.difficulty, s.min_difficulty, s.max_difficulty),
            (netuid, difficulty, min, max)
        );
        prop_assert_eq!((s.max_uids, s.max_registrations_per_block, s.burn_half_life), (max_uids, per_block, half_life));
        prop_assert_eq!(s.burn_increase_mult, mult);
    }
}
