//! `pgcdc snapshot`: sends a running connector an `execute-snapshot` (or stop / pause /
//! resume) signal: a row in its signal table when it has one and the source channel is on,
//! else a line in its signal file. The connector acts on it while streaming.

use std::process::ExitCode;

use pgcdc::config::{ConnectorConfig, ProcessConfig, SignalChannel};
use pgcdc::pipeline::Settings;
use pgcdc::signal::{self, Signal, SnapshotData, SnapshotSpec};
use pgcdc::source::admin::Admin;

use super::args::SnapshotArgs;
use super::{load_all, EXIT_FAILURE, EXIT_USAGE};

pub fn run(config: Option<&std::path::Path>, args: SnapshotArgs) -> ExitCode {
    let (process, connectors) = match load_all(config, std::slice::from_ref(&args.path)) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let [c] = connectors.as_slice() else {
        eprintln!(
            "error: {} holds {} connectors; name one connector file",
            args.path.display(),
            connectors.len()
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let (sig, what) = signal_for(&args);
    match send(c, &process, &sig) {
        Ok(Some(via)) => {
            println!(
                "requested {what} for connector {} (signal {} {via})",
                c.name, sig.id
            );
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!(
                "error: {}: connector {} has no signal channel: set signal.data_collection (with \"source\" in signal.enabled_channels) or add \"file\" to signal.enabled_channels",
                c.file.display(),
                c.name
            );
            ExitCode::from(EXIT_USAGE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The signal and a description of it for the confirmation line.
fn signal_for(args: &SnapshotArgs) -> (Signal, String) {
    let tables = if args.tables.is_empty() {
        "every captured table".to_string()
    } else {
        args.tables.join(", ")
    };
    let (kind, data, what) = if args.pause {
        (
            signal::PAUSE_SNAPSHOT,
            String::new(),
            "a pause of the incremental snapshot".to_string(),
        )
    } else if args.resume {
        (
            signal::RESUME_SNAPSHOT,
            String::new(),
            "the incremental snapshot to resume".to_string(),
        )
    } else if args.stop {
        let data = SnapshotData {
            data_collections: args.tables.clone(),
            ..Default::default()
        };
        (
            signal::STOP_SNAPSHOT,
            serde_json::to_string(&data).expect("serializes"),
            format!("the incremental snapshot of {tables} to stop"),
        )
    } else {
        let spec = SnapshotSpec {
            tables: args.tables.clone(),
            conditions: args
                .filter
                .iter()
                .flat_map(|f| args.tables.iter().map(move |t| (t.clone(), f.clone())))
                .collect(),
        };
        let data = SnapshotData::incremental(&spec);
        let filter = args
            .filter
            .as_ref()
            .map_or(String::new(), |f| format!(" where {f}"));
        (
            signal::EXECUTE_SNAPSHOT,
            serde_json::to_string(&data).expect("serializes"),
            format!("an incremental snapshot of {tables}{filter}"),
        )
    };
    (
        Signal {
            id: signal::new_id("pgcdc-cli-"),
            kind: kind.to_string(),
            data,
        },
        what,
    )
}

/// Sends the signal; where it went, or `None` without a channel.
fn send(
    c: &ConnectorConfig,
    process: &ProcessConfig,
    sig: &Signal,
) -> Result<Option<String>, String> {
    if let (true, Some((schema, table))) = (
        c.signal.channel_enabled(SignalChannel::Source),
        c.signal.table(),
    ) {
        let settings = Settings::from_config(c, process).map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
        runtime.block_on(async {
            let admin = Admin::connect(&settings.params)
                .await
                .map_err(|e| e.to_string())?;
            signal::table::insert(admin.client(), &schema, &table, sig)
                .await
                .map_err(|e| {
                    format!("cannot insert the signal into {schema}.{table}: {e}: check that the table exists and the user may insert into it")
                })
        })?;
        return Ok(Some(format!("inserted into {schema}.{table}")));
    }
    if c.signal.channel_enabled(SignalChannel::File) {
        let path = c.signal_file(process);
        signal::file::append(&path, sig)
            .map_err(|e| format!("cannot append to the signal file {}: {e}", path.display()))?;
        return Ok(Some(format!("appended to {}", path.display())));
    }
    Ok(None)
}
