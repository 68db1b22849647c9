/**
 * Container detection by magic bytes (never by file name: attachments lie about names).
 */

/** The container formats the scanning core opens. */
export type ContainerKind = 'zip' | 'gzip' | 'tar';

/** Offset of the "ustar" magic in a POSIX / GNU tar header block. */
const TAR_MAGIC_OFFSET = 257;

/**
 * Identify a container by its magic bytes: 'zip' (local header PK\x03\x04, or PK\x05\x06
 * for an empty archive), 'gzip' (1f 8b), 'tar' ("ustar" at offset 257), else undefined.
 */
export function detectContainer(data: Buffer): ContainerKind | undefined {
  if (data.length >= 4 && data[0] === 0x50 && data[1] === 0x4b) {
    if ((data[2] === 0x03 && data[3] === 0x04) || (data[2] === 0x05 && data[3] === 0x06)) return 'zip';
  }
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return 'gzip';
  if (data.length >= TAR_MAGIC_OFFSET + 5 && data.toString('latin1', TAR_MAGIC_OFFSET, TAR_MAGIC_OFFSET + 5) === 'ustar') {
    return 'tar';
  }
  return undefined;
}
