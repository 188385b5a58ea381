//! The `config` field of a session request: a comma-separated set of known flags.

use std::collections::BTreeSet;
use std::fmt;

use super::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigFlag {
    /// ID card + selfie + liveness; stores the template.
    Enrollment,
    /// Run the liveness challenge.
    Liveness,
    /// The result carries per-step diagnostics.
    Debug,
}

impl ConfigFlag {
    pub const ALL: [ConfigFlag; 3] = [ConfigFlag::Enrollment, ConfigFlag::Liveness, ConfigFlag::Debug];

    pub fn as_str(self) -> &'static str {
        match self {
            ConfigFlag::Enrollment => "enrollment",
            ConfigFlag::Liveness => "liveness",
            ConfigFlag::Debug => "debug",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Enrollment,
    Verification,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Enrollment => "enrollment",
            SessionKind::Verification => "verification",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "enrollment" => Some(SessionKind::Enrollment),
            "verification" => Some(SessionKind::Verification),
            _ => None,
        }
    }
}

/// A validated, normalised flag set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionConfig(BTreeSet<ConfigFlag>);

impl SessionConfig {
    /// Parses `"enrollment,liveness,debug"`. Whitespace around flags and letter case are
    /// tolerated; empty items, unknown flags and repeated flags are errors.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.len() > 256 {
            return Err(FieldError::new("invalid_config", "config is longer than 256 characters"));
        }
        let mut flags = BTreeSet::new();
        if raw.trim().is_empty() {
            return Ok(Self(flags));
        }
        for item in raw.split(',') {
            let name = item.trim().to_ascii_lowercase();
            if name.is_empty() {
                return Err(FieldError::new("invalid_config", "config has an empty flag (stray comma)"));
            }
            let flag = ConfigFlag::parse(&name).ok_or_else(|| {
                let known: Vec<_> = ConfigFlag::ALL.iter().map(|f| f.as_str()).collect();
                FieldError::new(
                    "unknown_config_flag",
                    format!("unknown config flag {:?}; known flags: {}", truncate(item.trim(), 40), known.join(", ")),
                )
            })?;
            if !flags.insert(flag) {
                return Err(FieldError::new("invalid_config", format!("config flag {name:?} is repeated")));
            }
        }
        Ok(Self(flags))
    }

    pub fn has(&self, flag: ConfigFlag) -> bool {
        self.0.contains(&flag)
    }

    pub fn kind(&self) -> SessionKind {
        if self.has(ConfigFlag::Enrollment) { SessionKind::Enrollment } else { SessionKind::Verification }
    }

    pub fn flags(&self) -> impl Iterator<Item = ConfigFlag> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.0.iter().map(|flag| flag.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_config_parses_and_normalises() {
        let c = SessionConfig::parse("enrollment, Liveness,debug").unwrap();
        assert_eq!(c.kind(), SessionKind::Enrollment);
        assert!(c.has(ConfigFlag::Debug));
        assert_eq!(c.to_string(), "enrollment,liveness,debug");
    }

    #[test]
    fn verification_when_enrollment_absent() {
        assert_eq!(SessionConfig::parse("liveness").unwrap().kind(), SessionKind::Verification);
        assert_eq!(SessionConfig::parse("").unwrap().kind(), SessionKind::Verification);
    }

    #[test]
    fn bad_flags_are_errors() {
        assert_eq!(SessionConfig::parse("enrollment,selfie").unwrap_err().code, "unknown_config_flag");
        assert_eq!(SessionConfig::parse("enrollment,,debug").unwrap_err().code, "invalid_config");
        assert_eq!(SessionConfig::parse("debug,debug").unwrap_err().code, "invalid_config");
    }
}
