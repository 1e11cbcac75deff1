//! Loaders that turn benchmark annotation formats into [`PhraseBoxes`](super::PhraseBoxes),
//! one file per format.

mod coco;
mod flickr30k;
mod referit;
mod visual_genome;

pub use coco::{load_coco_instances, parse_coco_instances};
pub use flickr30k::{Flickr30kSkipped, load_flickr30k_entities};
pub use referit::load_referit;
pub use visual_genome::load_visual_genome;
