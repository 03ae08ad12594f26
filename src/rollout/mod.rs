//! Rollout: the new task-definition revision and the health verdict, as pure cores the watch
//! loop (to come) drives. `taskdef` renders the revision (JSON `Value`s end to end so no field
//! is lost), `canonical` decides whether the serving revision is already it and prints the
//! dry-run diff, `imageref` parses image references. Nothing here calls AWS or reads a clock;
//! this module never imports `identity` or `image` (`app` wires the stages).

pub mod assess;
pub mod canonical;
pub mod events;
pub mod imageref;
pub mod stopped;
pub mod taskdef;

pub use assess::{
    DeploymentView, Failure, FailureKind, ProbeView, ServiceEvent, ServiceSnapshot, TargetView,
    Verdict, Watch, assess, new_events, progress,
};

pub use canonical::{diff, is_identical};
pub use events::{KNOWN_CAUSES, KnownCause, classify};
pub use imageref::{ImageRef, ImageRefError};
pub use stopped::{LogRef, StoppedContainer, StoppedTask, summarise_stopped_task};
pub use taskdef::{
    ImageAssignment, ImageChange, ImageUpdate, Rendered, TaskDefError, parse_task_definition_file,
    render,
};
