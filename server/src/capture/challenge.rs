//! Issuing liveness challenges: random by default; with the test-only `liveness.challenge_seed`
//! the actions repeat so browser tests can play a matching clip, while the nonce stays random.

use rand::SeedableRng;
use rand::rngs::StdRng;
use thirdfactor_engine::liveness::{Challenge, ChallengeConfig, ChallengeError};

use crate::config::Settings;

#[derive(Debug, Clone)]
pub struct ChallengeIssuer {
    config: ChallengeConfig,
    seed: Option<u64>,
}

impl ChallengeIssuer {
    pub fn from_settings(settings: &Settings) -> Self {
        Self { config: settings.challenge_config(), seed: settings.liveness.challenge_seed }
    }

    pub fn is_seeded(&self) -> bool {
        self.seed.is_some()
    }

    pub fn issue(&self, now_ms: i64) -> Result<Challenge, ChallengeError> {
        let mut fresh = Challenge::random(&self.config, now_ms, &mut rand::rng())?;
        if let Some(seed) = self.seed {
            // A fresh generator per challenge: every challenge asks the same actions. Only the
            // actions come from the seed; the nonce of `fresh` (OS randomness) is kept.
            let seeded = Challenge::random(&self.config, now_ms, &mut StdRng::seed_from_u64(seed))?;
            fresh.actions = seeded.actions;
        }
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(seed: Option<u64>) -> ChallengeIssuer {
        let mut settings = Settings::defaults();
        settings.liveness.challenge_seed = seed;
        ChallengeIssuer::from_settings(&settings)
    }

    #[test]
    fn a_seed_fixes_the_actions_but_never_the_nonce() {
        let seeded = issuer(Some(42));
        let (a, b) = (seeded.issue(0).unwrap(), seeded.issue(5).unwrap());
        assert_eq!(a.actions, b.actions);
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(a.nonce.len(), 43);
        assert!(a.actions.iter().any(|x| x.is_turn()), "still honours require_turn: {:?}", a.actions);
    }

    #[test]
    fn without_a_seed_the_actions_vary() {
        let random = issuer(None);
        let sequences: std::collections::HashSet<_> = (0..50).map(|_| random.issue(0).unwrap().actions).collect();
        assert!(sequences.len() > 5, "{} distinct sequences", sequences.len());
    }
}
