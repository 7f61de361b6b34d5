//! placeholder: filled by the dns work
