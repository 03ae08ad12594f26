//! Rollout: the new task-definition revision and the health verdict, as pure cores the watch
//! loop (to come) drives. `taskdef` renders the revision (JSON `Value`s end to end so no field
//! is lost), `canonical` decides whether the serving revision is already it and prints the
//! dry-run diff, `imageref` parses image references. Nothing here calls AWS or reads a clock;
//! this module never imports `identity` or `image` (`app` wires the stages).

pub mod canonical;
pub mod imageref;
pub mod taskdef;

pub use canonical::{diff, is_identical};
pub use imageref::{ImageRef, ImageRefError};
pub use taskdef::{
    ImageAssignment, ImageChange, ImageUpdate, Rendered, TaskDefError, parse_task_definition_file,
    render,
};
