//! Rendering an inventory for people and tools: the JSON contract ([`json`]) and the terminal
//! table ([`table`]). Both read the masked wire model only, so neither can print a secret.

pub mod json;
pub mod table;
