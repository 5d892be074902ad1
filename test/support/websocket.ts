/** A minimal websocket client (RFC 6455), enough for a Jupyter kernel's JSON channel. */
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type net from "node:net";

/** Text messages only (what Jupyter's JSON kernel channel sends); answers pings; no extensions. */
export class WebSocketClient {
  private buffer: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private queue: string[] = [];
  private waiter: (() => void) | null = null;
  closedReason: string | null = null;

  private constructor(
    private readonly socket: net.Socket,
    head: Buffer,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.onClose("connection closed"));
    socket.on("error", (err) => this.onClose(`socket error: ${err.message}`));
    if (head.length) this.onData(head);
  }

  static connect(url: string, headers: Record<string, string>, timeoutMs = 15_000): Promise<WebSocketClient> {
    const u = new URL(url);
    const key = randomBytes(16).toString("base64");
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        timeout: timeoutMs,
        headers: { ...headers, Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key },
      });
      req.on("upgrade", (res, socket, head) => {
        if (res.headers["sec-websocket-accept"] !== accept) {
          socket.destroy();
          reject(new Error(`websocket ${u.pathname}: bad Sec-WebSocket-Accept ${res.headers["sec-websocket-accept"]}`));
          return;
        }
        socket.setTimeout(0);
        resolve(new WebSocketClient(socket, head));
      });
      req.on("response", (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () =>
          reject(new Error(`websocket ${u.pathname}: HTTP ${res.statusCode} instead of an upgrade: ${body.slice(0, 500)}`)),
        );
      });
      req.on("timeout", () => req.destroy(new Error(`websocket ${u.pathname}: no upgrade within ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end();
    });
  }

  private onData(chunk: Buffer) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b[1] & 0x80) !== 0;
      const maskAt = off;
      if (masked) off += 4;
      if (b.length < off + len) return;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[maskAt + (i & 3)];
      this.buffer = b.subarray(off + len);
      this.onFrame((b[0] & 0x80) !== 0, b[0] & 0x0f, payload);
    }
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer) {
    if (opcode === 0x8) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.sendFrame(0x8, payload.subarray(0, 2));
      this.socket.end();
      this.onClose(`closed by the server (code ${code}${payload.length > 2 ? `: ${payload.subarray(2)}` : ""})`);
    } else if (opcode === 0x9) {
      this.sendFrame(0xa, payload);
    } else if (opcode === 0x0 || opcode === 0x1 || opcode === 0x2) {
      this.fragments.push(payload);
      if (fin) {
        this.queue.push(Buffer.concat(this.fragments).toString("utf8"));
        this.fragments = [];
        this.wake();
      }
    }
  }

  private onClose(reason: string) {
    this.closedReason ??= reason;
    this.wake();
  }

  private wake() {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private sendFrame(opcode: number, payload: Buffer) {
    if (this.socket.destroyed) return;
    const len = payload.length;
    const header = Buffer.alloc(len < 126 ? 2 : len < 65536 ? 4 : 10);
    header[0] = 0x80 | opcode;
    if (len < 126) header[1] = 0x80 | len;
    else if (len < 65536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(len, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(len), 2);
    }
    const mask = randomBytes(4); // client frames must be masked
    const body = Buffer.alloc(len);
    for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
    this.socket.write(Buffer.concat([header, mask, body]));
  }

  send(text: string) {
    if (this.closedReason) throw new Error(`websocket: cannot send, ${this.closedReason}`);
    this.sendFrame(0x1, Buffer.from(text, "utf8"));
  }

  /** The next text message; rejects on timeout or close. */
  async next(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const msg = this.queue.shift();
      if (msg !== undefined) return msg;
      if (this.closedReason) throw new Error(`websocket: ${this.closedReason}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`websocket: no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  close() {
    if (!this.closedReason) this.sendFrame(0x8, Buffer.from([0x03, 0xe8])); // 1000 normal closure
    this.onClose("closed by us");
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1_000).unref();
  }
}
