/**
 * Socket tuning for our smtp-server listeners (proxy and sink). smtp-server writes each
 * reply with its own write(), so the replies to a pipelined MAIL/RCPT/DATA batch would
 * cost three syscalls and three segments (and wake the peer three times).
 */
import type { Socket } from 'node:net';

/** Make writes issued in the same event-loop turn leave as one writev: cork on the first write, uncork at the end of the turn (setImmediate). */
export function coalesceWrites(socket: Socket): void {
  const write = socket.write;
  let corked = false;
  const flush = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    return write.apply(this, args);
  } as Socket['write'];
}
