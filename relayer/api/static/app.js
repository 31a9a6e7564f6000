// The explorer: plain JavaScript over the public API (no build step, no third-party code).
"use strict";

const $ = (id) => document.getElementById(id);
const SATS = 100000000n;

async function api(path, options = {}) {
  const response = await fetch(path, { headers: { "Content-Type": "application/json" }, ...options });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body && body.error ? body.error : { message: `HTTP ${response.status}` };
    throw new Error(error.message);
  }
  return body;
}

function show(id, text) { $(id).textContent = text === null || text === undefined ? "—" : String(text); }
function fail(id, error) { const el = $(id); el.textContent = error.message; el.hidden = false; }
function clear(id) { $(id).hidden = true; $(id).textContent = ""; }

function amount(asset, units) {
  // 8 decimals for both BTC (sats) and USDT (Omni units), exact with BigInt.
  const value = BigInt(units);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const frac = (abs % SATS).toString().padStart(8, "0").replace(/0+$/, "");
  return `${sign}${abs / SATS}${frac ? "." + frac : ""} ${asset}`;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
}

async function refreshStatus() {
  try {
    const status = await api("/v1/status");
    clear("status-error");
    show("bitcoin-tip", status.bitcoin.reachable ? `${status.bitcoin.tip} (${status.bitcoin.network})` : "bitcoind unreachable");
    show("sidechain-head", status.sidechain.reachable ? `${status.sidechain.head} (chain ${status.sidechain.chain_id})` : "node unreachable");
    const lag = status.relayer.bitcoin_lag_blocks;
    show("relayer-lag", lag === null ? "unknown (no Bitcoin block scanned yet, or bitcoind down)" : `${lag} block${lag === 1 ? "" : "s"} behind bitcoind`);
    const fed = status.federation;
    show("federation", `${fed.live} of ${fed.members.length} members live, ${fed.threshold} must sign`);
    const paused = $("paused");
    paused.textContent = status.paused ? `paused${status.pause_reason ? ": " + status.pause_reason : ""}` : "running";
    paused.className = status.paused ? "pill paused" : "pill";
    const body = $("solvency").querySelector("tbody");
    body.replaceChildren();
    for (const s of status.solvency) {
      const row = document.createElement("tr");
      cell(row, s.asset);
      for (const key of ["deposited", "paid_out", "in_flight", "expected_sidechain_supply"]) cell(row, amount(s.asset, s[key]), "num");
      cell(row, s.sidechain_supply === null ? "—" : amount(s.asset, s.sidechain_supply) + (s.balanced ? " ✓" : " ✗"), "num");
      body.appendChild(row);
    }
  } catch (error) {
    fail("status-error", error);
  }
}

async function refreshWindows() {
  try {
    const [claims, withdrawals] = await Promise.all([
      api("/v1/claims?status=open&limit=50"),
      api("/v1/withdrawals?status=window_open&limit=50"),
    ]);
    const rows = [
      ...withdrawals.items.map((w) => ({ what: `withdrawal ${amount(w.asset, w.amount)}`, subject: w.id, window: w.challenge_window })),
      ...claims.items.map((c) => ({ what: `${c.kind.replace(/_/g, " ")} (${c.clock})`, subject: c.subject, window: c.window })),
    ].sort((a, b) => (a.window.blocks_left ?? 1e9) - (b.window.blocks_left ?? 1e9));
    const body = $("windows").querySelector("tbody");
    body.replaceChildren();
    for (const r of rows) {
      const row = document.createElement("tr");
      cell(row, r.what);
      cell(row, r.subject);
      cell(row, r.window.closes_at_height, "num");
      cell(row, r.window.blocks_left === null ? "unknown" : `${r.window.blocks_left} blocks`, "num");
      body.appendChild(row);
    }
    $("windows-empty").hidden = rows.length > 0;
  } catch (error) {
    $("windows-empty").textContent = error.message;
    $("windows-empty").hidden = false;
  }
}

async function makeAddress(event) {
  event.preventDefault();
  clear("address-error");
  const body = { evm_address: $("evm-address").value.trim() };
  const refund = $("refund-pubkey").value.trim();
  if (refund) body.refund_pubkey = refund;
  try {
    const made = await api("/v1/deposit-addresses", { method: "POST", body: JSON.stringify(body) });
    show("deposit-address", made.address);
    show("address-minimums", `${amount("BTC", made.minimum_amounts.BTC)} or ${amount("USDT", made.minimum_amounts.USDT)}`);
    show("address-confirmations", `${made.confirmations} blocks before minting`);
    show("address-federation", `${made.federation.threshold} of ${made.federation.public_keys.length} keys`);
    show("address-refund", made.refund_pubkey ? `your key, after ${made.refund_timeout_blocks} blocks` : "by the federation only");
    $("address-result").hidden = false;
  } catch (error) {
    $("address-result").hidden = true;
    fail("address-error", error);
  }
}

const MARKET_ASSETS = ["BTC", "USDT", "rsBTC", "rsUSDT"];
const percent = (bps) => `${(bps / 100).toFixed(2)}%`;
const usd = (units) => amount("USD", units);

async function refreshMarkets() {
  try {
    const answer = await api("/v1/markets");
    clear("markets-error");
    show("markets-block", `at block ${answer.block}`);
    const body = $("markets").querySelector("tbody");
    body.replaceChildren();
    for (const m of answer.markets) {
      const row = document.createElement("tr");
      row.dataset.market = m.name;
      cell(row, m.borrowable ? m.name : `${m.name} (collateral only)`);
      cell(row, m.price.price ? usd(m.price.price) + (m.price.stale ? " (stale)" : "") : "no price yet", "num");
      cell(row, `${percent(m.ltv_bps)} / ${percent(m.liquidation_threshold_bps)} / ${percent(m.liquidation_bonus_bps)}`);
      cell(row, m.rates ? percent(m.rates.utilisation.bps) : null, "num");
      cell(row, m.rates ? percent(m.rates.borrow_rate.bps) : null, "num");
      cell(row, m.rates ? percent(m.rates.supply_rate.bps) : null, "num");
      cell(row, m.totals ? amount(m.name, m.totals.supplied) : null, "num");
      cell(row, m.totals ? amount(m.name, m.totals.borrowed) : null, "num");
      const cap = (value) => (value === null ? "none" : amount(m.name, value));
      cell(row, m.borrowable ? `${cap(m.caps.supply)} / ${cap(m.caps.borrow)}` : null);
      body.appendChild(row);
    }
  } catch (error) {
    fail("markets-error", error);
  }
}

let lookedUp = null;

async function showPosition() {
  if (!lookedUp) return;
  clear("position-error");
  try {
    const p = await api(`/v1/positions/${encodeURIComponent(lookedUp)}`);
    const stale = p.prices.some((price) => price.stale);
    show("position-health", (p.health_factor === null ? "no debt" : p.health_factor) + (p.liquidatable ? " — liquidatable" : "") + (stale ? " (a price is stale)" : ""));
    const body = $("position-markets").querySelector("tbody");
    body.replaceChildren();
    for (const m of p.markets) {
      if (m.collateral === 0 && m.debt === 0) continue;
      const row = document.createElement("tr");
      cell(row, MARKET_ASSETS[m.id]);
      cell(row, amount(MARKET_ASSETS[m.id], m.collateral), "num");
      cell(row, amount(MARKET_ASSETS[m.id], m.debt), "num");
      body.appendChild(row);
    }
    show("position-power", usd(p.borrow_power));
    show("position-debt", usd(p.debt_value));
    show("position-liquidation", p.liquidation_prices.map((l) => `when ${l.asset} ${l.when} ${usd(l.price)}`).join("; ") || "no price liquidates it");
    show("position-leverage", p.leverage_account ?? "none");
    $("position-result").hidden = false;
  } catch (error) {
    $("position-result").hidden = true;
    fail("position-error", error);
  }
}

let followedDeposit = null;
let followedWithdrawal = null;

async function showDeposit() {
  if (!followedDeposit) return;
  clear("deposit-error");
  try {
    const d = await api(`/v1/deposits/${encodeURIComponent(followedDeposit)}`);
    show("deposit-status", d.status);
    $("deposit-result").dataset.status = d.status;
    show("deposit-amount", amount(d.asset, d.amount));
    show("deposit-confirmations", `${d.confirmations} of ${d.required_confirmations}`);
    show("deposit-recipient", d.evm_address);
    show("deposit-mint", d.mint ? `${d.mint.tx_hash} (block ${d.mint.block})` : "not yet");
    const rejection = $("deposit-rejection");
    rejection.hidden = !d.rejection;
    if (d.rejection) rejection.textContent = `Rejected: ${d.rejection.explanation}. Refund: ${d.rejection.refund.instructions}`;
    $("deposit-result").hidden = false;
  } catch (error) {
    $("deposit-result").hidden = true;
    fail("deposit-error", error);
  }
}

async function showWithdrawal() {
  if (!followedWithdrawal) return;
  clear("withdrawal-error");
  try {
    const w = await api(`/v1/withdrawals/${encodeURIComponent(followedWithdrawal)}`);
    show("withdrawal-status", w.status);
    show("withdrawal-amount", amount(w.asset, w.amount));
    show("withdrawal-to", w.bitcoin_address);
    const win = w.challenge_window;
    show("withdrawal-window", win ? `blocks ${win.opens_at_height}–${win.closes_at_height}, ${win.blocks_left ?? "?"} blocks left` : "not open yet");
    show("withdrawal-release", w.release ? `${w.release.txid} (${w.release.status}, ${w.release.confirmations} confirmations)` : "not yet");
    $("withdrawal-result").hidden = false;
  } catch (error) {
    $("withdrawal-result").hidden = true;
    fail("withdrawal-error", error);
  }
}

function follow() {
  const source = new EventSource("/v1/events");
  source.onopen = () => { $("live").textContent = "live"; $("live").className = "pill"; };
  source.onerror = () => { $("live").textContent = "reconnecting"; $("live").className = "pill off"; };
  const onEvent = (message) => {
    const e = JSON.parse(message.data);
    const item = document.createElement("li");
    const change = e.to_status ? `${e.from_status ?? "new"} → ${e.to_status}` : e.action;
    item.textContent = `${e.at} ${e.record_kind} ${e.record_id}: ${change}`;
    $("events").prepend(item);
    while ($("events").children.length > 30) $("events").lastChild.remove();
    if (e.record_kind === "deposit" && e.record_id === followedDeposit) showDeposit();
    if (e.record_kind === "withdrawal" && e.record_id === followedWithdrawal) showWithdrawal();
    refreshWindows();
  };
  for (const kind of ["deposit", "deposit_address", "withdrawal", "release", "claim", "challenge", "state_commitment", "bridge", "bitcoin_chain"]) {
    source.addEventListener(kind, onEvent);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("address-form").addEventListener("submit", makeAddress);
  $("deposit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    followedDeposit = $("deposit-id").value.trim().toLowerCase();
    showDeposit();
  });
  $("withdrawal-form").addEventListener("submit", (event) => {
    event.preventDefault();
    followedWithdrawal = $("withdrawal-id").value.trim().toLowerCase();
    showWithdrawal();
  });
  $("position-form").addEventListener("submit", (event) => {
    event.preventDefault();
    lookedUp = $("position-address").value.trim();
    showPosition();
  });
  refreshStatus();
  refreshWindows();
  refreshMarkets();
  follow();
  // Tips move without ledger events: recount the windows and the status every few seconds.
  setInterval(() => { refreshStatus(); refreshWindows(); showWithdrawal(); refreshMarkets(); showPosition(); }, 5000);
});
