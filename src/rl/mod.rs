//! Offline reinforcement learning of the scheduler's value network from recorded executions
//! (traces, or the store's execution log): photos are replayed as episodes, transitions go to
//! an experience-replay buffer, and a Dueling Double DQN is fitted with burn's autodiff.
//! A held-out split decides whether a new network replaces the current one.
//!
//! - [`trainer`]: the training loop.
//! - [`supervised`]: full-information training of "ours" (every model's true gain in every
//!   visited state), optionally as a residual over an empirical prior.
//! - [`report`]: the `bench-sched` report as text.
//! - [`stops`]: calibration and the early stops chosen on validation photos.
//! - [`checkpoint`]: versioned value-network files with their metrics.

pub mod bench;
pub mod checkpoint;
pub mod report;
pub mod retrain;
pub mod stops;
pub mod supervised;
pub mod trainer;

pub use checkpoint::Checkpoint;
pub use trainer::{TrainConfig, TrainMethod, TrainProgress, train};
