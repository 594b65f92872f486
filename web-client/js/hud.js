// @ts-check
/**
 * The DOM overlay: ping, fps, kbps down, tick and players online; the room's name; the top-10 scoreboard with
 * names; the kill feed; the connection status line ("reconnecting… 2 s", "connection lost —
 * resumed"); the death screen, which names the killer and counts down to the respawn. Writes only
 * `textContent` (names come from other players) and only when something changed.
 */

const STATS_EVERY_MS = 250;

/**
 * @typedef {object} HudInfo
 * @property {number | null} pingMs
 * @property {number} fps
 * @property {number} kbpsDown
 * @property {number | null} tick
 * @property {number} playersOnline
 * @property {{ name: string, score: number, mine: boolean }[]} top
 * @property {number} scoreboardVersion
 * @property {{ killer: string, victim: string, mine: boolean }[]} kills
 * @property {number} killsVersion
 * @property {number | null} respawnInS  seconds to respawn while dead, null while alive
 * @property {string | null} killedBy  who killed the own ship (while dead), if known
 * @property {number} myScore
 * @property {string} status  connection status, empty when all is well
 * @property {string | null} room  the name of the room the player is in (from its Welcome)
 */

export class Hud {
  /** @param {Document} doc */
  constructor(doc) {
    const el = (/** @type {string} */ id) => /** @type {HTMLElement} */ (doc.getElementById(id));
    this.doc = doc;
    this.stats = el('stats');
    this.board = el('board-list');
    this.online = el('online');
    this.room = el('room');
    this.lastRoom = /** @type {string | null} */ (null);
    this.killfeed = el('killfeed');
    this.status = el('status');
    this.death = el('death');
    this.deathCount = el('death-count');
    this.deathBy = el('death-by');
    this.deathKiller = el('death-killer');
    this.lastStats = -Infinity;
    this.boardVersion = -1;
    this.killsVersion = -1;
    this.lastStatus = '';
    this.lastDeath = '';
  }

  /**
   * @param {HudInfo} info
   * @param {number} now  ms
   */
  update(info, now) {
    if (now - this.lastStats >= STATS_EVERY_MS) {
      this.lastStats = now;
      const ping = info.pingMs === null ? '–' : `${Math.round(info.pingMs)} ms`;
      this.stats.textContent =
        `ping ${ping}  ·  ${Math.round(info.fps)} fps  ·  ${info.kbpsDown.toFixed(1)} kbps\n` +
        `tick ${info.tick ?? '–'}  ·  ${info.playersOnline} online  ·  score ${info.myScore}`;
    }
    if (info.scoreboardVersion !== this.boardVersion) {
      this.boardVersion = info.scoreboardVersion;
      this.board.replaceChildren(
        ...info.top.slice(0, 10).map((row) => {
          const li = this.doc.createElement('li');
          if (row.mine) li.className = 'mine';
          const name = this.doc.createElement('span');
          name.textContent = row.name;
          const score = this.doc.createElement('b');
          score.textContent = String(row.score);
          li.append(name, score);
          return li;
        }),
      );
      this.online.textContent = `${info.playersOnline} online`;
    }
    if (info.room !== this.lastRoom) {
      this.lastRoom = info.room;
      this.room.textContent = info.room ? `room ${info.room}` : '';
    }
    if (info.killsVersion !== this.killsVersion) {
      this.killsVersion = info.killsVersion;
      this.killfeed.replaceChildren(
        ...info.kills.map((k) => {
          const li = this.doc.createElement('li');
          if (k.mine) li.className = 'mine';
          const killer = this.doc.createElement('b');
          killer.textContent = k.killer;
          const victim = this.doc.createElement('b');
          victim.textContent = k.victim;
          li.append(killer, ' ✕ ', victim);
          return li;
        }),
      );
    }
    if (info.status !== this.lastStatus) {
      this.lastStatus = info.status;
      this.status.textContent = info.status;
      this.status.hidden = info.status === '';
    }
    const count = info.respawnInS === null ? '' : `respawning in ${Math.max(0, info.respawnInS).toFixed(1)} s`;
    const killer = info.respawnInS === null || info.killedBy === null ? '' : info.killedBy;
    const death = `${count}\n${killer}`;
    if (death !== this.lastDeath) {
      this.lastDeath = death;
      this.death.hidden = count === '';
      this.deathCount.textContent = count;
      this.deathKiller.textContent = killer;
      this.deathBy.hidden = killer === '';
    }
  }
}
