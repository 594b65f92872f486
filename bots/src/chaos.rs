//! Misbehaving clients ([`Chaos`]): what each does, and what it saw the server do about it.

use crate::behaviour::Chaos;
use crate::bot::{BotConfig, BotReport, Socket, connect_with};
use arena_protocol::codec::encode_client;
use arena_protocol::{ClientMsg, Hello, InputBatch, InputCmd, ServerMsg, ViewTime, decode_server};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// Performs `chaos` against the server of `config` until it is closed or the run ends; records
/// connections, a `Bye` and the close frame in `report`.
pub async fn misbehave(config: &BotConfig, chaos: Chaos, report: &mut BotReport) -> Result<(), String> {
    if chaos == Chaos::ReconnectStorm {
        while Instant::now() < config.stop_at {
            let mut ws = open(config, report, None).await?;
            join(config, &mut ws).await?;
            // A normal close (1000): the player leaves at once. Any other end would leave its
            // ship in the room for the resume grace, and a storm would fill the room with them.
            let _ = ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "storm".into() })).await;
        }
        return Ok(());
    }
    let recv_buffer = (chaos == Chaos::SlowReader).then_some(4096);
    let mut ws = open(config, report, recv_buffer).await?;
    if chaos != Chaos::Silent {
        join(config, &mut ws).await?;
    }
    match chaos {
        Chaos::Malformed => send(&mut ws, Bytes::from_static(&[0xff, 0xfe, 0xfd, 0xfc, 0xfb])).await,
        Chaos::Oversize => send(&mut ws, Bytes::from(vec![0u8; 64 * 1024])).await,
        Chaos::Flood => {
            let mut seq = 0;
            while Instant::now() < config.stop_at && seq < 100_000 {
                seq += 1;
                let batch = InputBatch::new(seq, ViewTime::default(), vec![InputCmd::default()]);
                let input = encode_client(&ClientMsg::Input(batch));
                if ws.send(Message::Binary(input.into())).await.is_err() {
                    break;
                }
            }
        }
        Chaos::SlowReader => {
            // Stop reading: the server's frames pile up in the socket buffers.
            tokio::time::sleep_until(config.stop_at).await;
        }
        Chaos::Silent | Chaos::ReconnectStorm => {}
    }
    read_to_close(&mut ws, config.stop_at + Duration::from_secs(3), report).await;
    Ok(())
}

async fn open(config: &BotConfig, report: &mut BotReport, recv_buffer: Option<u32>) -> Result<Socket, String> {
    let connecting = connect_with(&config.url, config.source_ip, recv_buffer);
    let ws = tokio::time::timeout_at(config.stop_at + Duration::from_secs(5), connecting)
        .await
        .map_err(|_| "connect timed out".to_owned())??;
    report.connections += 1;
    Ok(ws)
}

async fn send(ws: &mut Socket, bytes: Bytes) {
    let _ = ws.send(Message::Binary(bytes)).await;
}

/// Says Hello and waits for the Welcome.
async fn join(config: &BotConfig, ws: &mut Socket) -> Result<(), String> {
    let hello = ClientMsg::Hello(Hello {
        protocol_version: config.protocol_version,
        name: config.name.clone(),
        resume: None,
        join_token: crate::join::token_for(&config.name),
        room: config.room.clone(),
    });
    ws.send(Message::Binary(encode_client(&hello).into())).await.map_err(|e| format!("send failed: {e}"))?;
    let by = Instant::now() + Duration::from_secs(10);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(by, ws.next()).await {
        if let Message::Binary(b) = msg
            && let Ok(ServerMsg::Welcome(_)) = decode_server(&b)
        {
            return Ok(());
        }
    }
    Err("no Welcome".into())
}

/// Reads until the server's close frame (recording it and any `Bye`), or `until`.
async fn read_to_close(ws: &mut Socket, until: Instant, report: &mut BotReport) {
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, ws.next()).await {
        match msg {
            Message::Binary(b) => {
                if let Ok(ServerMsg::Bye(bye)) = decode_server(&b) {
                    report.bye = Some(bye);
                }
            }
            Message::Close(frame) => {
                report.close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                return;
            }
            _ => {}
        }
    }
}
