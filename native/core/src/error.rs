use thiserror::Error;

/// Errors caused by the input (a bad file, a bad argument). The binding maps these to
/// JS errors with code `InvalidArg`, which the CLI reports as user errors (exit 1).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DataError {
    /// A value in a row is wrong. `line` is 1-based and counts the header line if any.
    #[error("{file}:{line}: column '{column}': {message} (value '{value}')")]
    BadValue {
        file: String,
        line: u64,
        column: String,
        value: String,
        message: String,
    },
    /// A row is wrong as a whole (wrong column count, out of order, duplicate).
    #[error("{file}:{line}: {message}")]
    BadRow {
        file: String,
        line: u64,
        message: String,
    },
    /// The file as a whole is wrong (empty, corrupt archive, unreadable).
    #[error("{file}: {message}")]
    BadFile { file: String, message: String },
    /// An argument to a kernel is wrong.
    #[error("{0}")]
    BadArgument(String),
}

impl DataError {
    pub fn arg(msg: impl Into<String>) -> Self {
        DataError::BadArgument(msg.into())
    }
}
