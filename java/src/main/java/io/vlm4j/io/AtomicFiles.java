package io.vlm4j.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that readers see either the old content or the complete new content, never a half-written
 * file: the body writes a hidden temporary file in the target's directory (same file system, so the rename is
 * atomic), which is synced and then renamed over the target. On failure the temporary file is removed.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** A consumer that may throw {@link IOException}. */
    @FunctionalInterface
    public interface IOConsumer<T> {
        void accept(T value) throws IOException;
    }

    public static void write(Path target, IOConsumer<OutputStream> body) throws IOException {
        Path abs = target.toAbsolutePath();
        if (Files.isDirectory(abs)) throw new IOException(target + ": is a directory, cannot write a file there");
        if (!Files.isDirectory(abs.getParent())) {
            throw new NoSuchFileException(abs.getParent().toString(), null, "directory for " + abs.getFileName() + " does not exist");
        }
        Path tmp = null;
        boolean moved = false;
        try {
            tmp = createTemp(abs);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                // Not closed separately: closing the stream would close the channel before force().
                OutputStream out = Channels.newOutputStream(ch);
                body.accept(out);
                out.flush();
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            moved = true;
        } finally {
            if (tmp != null && !moved) Files.deleteIfExists(tmp);
        }
    }

    /** CREATE_NEW (not createTempFile) so the file gets the usual umask permissions rather than 0600. */
    private static Path createTemp(Path abs) throws IOException {
        Path dir = abs.getParent();
        for (int attempt = 0; ; attempt++) {
            String name = "." + abs.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp";
            Path tmp = dir.resolve(name);
            try {
                Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 10) throw e;
            }
        }
    }
}
