//! The server-issued challenge: a random sequence of head actions, a 256-bit nonce and a time
//! window. The server stores it with the session; the page answers once with the nonce and
//! timed frames. Pure data and pure checks — storage and "one answer per challenge" belong to
//! the server.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{CryptoRng, RngExt};
use serde::{Deserialize, Serialize};

/// One thing the user is asked to do. Directions are the subject's own: `TurnLeft` means the
/// person turns to *their* left, so in an unmirrored camera frame the nose moves to the image
/// right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    TurnLeft,
    TurnRight,
    LookUp,
    Blink,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::TurnLeft, Action::TurnRight, Action::LookUp, Action::Blink];

    pub fn code(self) -> &'static str {
        match self {
            Action::TurnLeft => "turn_left",
            Action::TurnRight => "turn_right",
            Action::LookUp => "look_up",
            Action::Blink => "blink",
        }
    }

    pub fn is_turn(self) -> bool {
        matches!(self, Action::TurnLeft | Action::TurnRight)
    }
}

/// How challenges are drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeConfig {
    /// Actions that may be asked.
    pub actions: Vec<Action>,
    /// Fewest actions per challenge (default 2).
    pub min_actions: usize,
    /// Most actions per challenge (default 3).
    pub max_actions: usize,
    /// Time the page has to capture the answer, from issue (default 8 s: ~1 s to read the
    /// prompt, ~1.5 s per action, margin for slow phones).
    pub window_ms: i64,
    /// Always include at least one turn: the 3-D test needs yaw parallax, and nods and blinks
    /// alone cannot tell a flat picture from a head (default true).
    pub require_turn: bool,
}

impl Default for ChallengeConfig {
    fn default() -> Self {
        Self { actions: Action::ALL.to_vec(), min_actions: 2, max_actions: 3, window_ms: 8_000, require_turn: true }
    }
}

/// What the server issued. Serialisable so the server can keep it in the session row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    /// 256 random bits, base64url without padding.
    pub nonce: String,
    pub actions: Vec<Action>,
    pub issued_at_ms: i64,
    pub window_ms: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChallengeError {
    #[error("the challenge configuration allows no action")]
    NoActions,
    #[error("min_actions {min} must be between 1 and max_actions {max}")]
    BadLength { min: usize, max: usize },
}

impl Challenge {
    /// Draws a challenge: `min..=max` actions from the configured set, never the same action
    /// twice in a row, with at least one turn when `require_turn` and a turn is allowed.
    pub fn random<R: CryptoRng + ?Sized>(
        config: &ChallengeConfig,
        now_ms: i64,
        rng: &mut R,
    ) -> Result<Challenge, ChallengeError> {
        if config.actions.is_empty() {
            return Err(ChallengeError::NoActions);
        }
        if config.min_actions == 0 || config.min_actions > config.max_actions {
            return Err(ChallengeError::BadLength { min: config.min_actions, max: config.max_actions });
        }
        let len = rng.random_range(config.min_actions..=config.max_actions);
        let mut actions = draw_sequence(&config.actions, len, rng);
        let turns: Vec<Action> = config.actions.iter().copied().filter(|a| a.is_turn()).collect();
        if config.require_turn && !turns.is_empty() && !actions.iter().any(|a| a.is_turn()) {
            force_one_turn(&mut actions, &turns, rng);
        }
        Ok(Challenge { nonce: random_nonce(rng), actions, issued_at_ms: now_ms, window_ms: config.window_ms })
    }

    /// Constant-time comparison of the submitted nonce with ours (no timing oracle).
    pub fn nonce_matches(&self, submitted: &str) -> bool {
        let (a, b) = (self.nonce.as_bytes(), submitted.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Last instant (ms) at which an answer may have been captured.
    pub fn deadline_ms(&self) -> i64 {
        self.issued_at_ms.saturating_add(self.window_ms)
    }

    /// Whether a capture timestamp lies in the window, allowing `skew_ms` of clock difference
    /// between the phone and the server at both ends.
    pub fn in_window(&self, timestamp_ms: i64, skew_ms: i64) -> bool {
        timestamp_ms >= self.issued_at_ms - skew_ms && timestamp_ms <= self.deadline_ms() + skew_ms
    }

    /// For the server: an answer received after this is late whatever its timestamps say.
    pub fn is_expired(&self, now_ms: i64, skew_ms: i64) -> bool {
        now_ms > self.deadline_ms() + skew_ms
    }
}

/// `len` actions, each different from the one before it (when the set allows).
fn draw_sequence<R: CryptoRng + ?Sized>(allowed: &[Action], len: usize, rng: &mut R) -> Vec<Action> {
    let mut actions: Vec<Action> = Vec::with_capacity(len);
    for _ in 0..len {
        let choices: Vec<Action> = allowed.iter().copied().filter(|a| actions.last() != Some(a)).collect();
        let pool = if choices.is_empty() { allowed } else { &choices };
        actions.push(pool[rng.random_range(0..pool.len())]);
    }
    actions
}

/// Replaces one random position with a turn that differs from its neighbours where possible.
fn force_one_turn<R: CryptoRng + ?Sized>(actions: &mut [Action], turns: &[Action], rng: &mut R) {
    let at = rng.random_range(0..actions.len());
    // Turns never neighbour a turn here (the sequence had none), so any turn avoids a repeat.
    actions[at] = turns[rng.random_range(0..turns.len())];
}

fn random_nonce<R: CryptoRng + ?Sized>(rng: &mut R) -> String {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn drawn_challenges_respect_the_configuration() {
        let mut rng = StdRng::seed_from_u64(7);
        let config = ChallengeConfig::default();
        for _ in 0..500 {
            let c = Challenge::random(&config, 1_000, &mut rng).unwrap();
            assert!((2..=3).contains(&c.actions.len()));
            assert!(c.actions.windows(2).all(|w| w[0] != w[1]), "{:?}", c.actions);
            assert!(c.actions.iter().any(|a| a.is_turn()));
            assert_eq!(c.nonce.len(), 43); // 32 bytes in unpadded base64url
            assert_eq!((c.issued_at_ms, c.deadline_ms()), (1_000, 9_000));
        }
    }

    #[test]
    fn nonces_differ_and_compare_exactly() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = Challenge::random(&ChallengeConfig::default(), 0, &mut rng).unwrap();
        let b = Challenge::random(&ChallengeConfig::default(), 0, &mut rng).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert!(a.nonce_matches(&a.nonce.clone()));
        assert!(!a.nonce_matches(&b.nonce));
        assert!(!a.nonce_matches(""));
    }

    #[test]
    fn a_single_action_set_still_draws_without_panicking() {
        let mut rng = StdRng::seed_from_u64(3);
        let config = ChallengeConfig { actions: vec![Action::Blink], require_turn: true, ..Default::default() };
        let c = Challenge::random(&config, 0, &mut rng).unwrap();
        assert!(c.actions.iter().all(|a| *a == Action::Blink));
        let empty = ChallengeConfig { actions: vec![], ..Default::default() };
        assert_eq!(Challenge::random(&empty, 0, &mut rng), Err(ChallengeError::NoActions));
    }

    #[test]
    fn the_window_allows_the_configured_skew() {
        let c = Challenge { nonce: "n".into(), actions: vec![Action::Blink], issued_at_ms: 1_000, window_ms: 5_000 };
        assert!(c.in_window(1_000, 0) && c.in_window(6_000, 0));
        assert!(!c.in_window(6_001, 0) && c.in_window(6_400, 500));
        assert!(!c.in_window(400, 500));
        assert!(c.is_expired(7_000, 500) && !c.is_expired(6_200, 500));
    }
}
