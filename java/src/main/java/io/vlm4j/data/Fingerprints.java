package io.vlm4j.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/** Identity strings of files: what changes when their content does, without reading it all (size and mtime). */
final class Fingerprints {
    private Fingerprints() {}

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);  // every Java platform has it
        }
    }

    static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(sha256().digest(bytes));
    }

    static String sha256(String text) {
        return sha256(text.getBytes(StandardCharsets.UTF_8));
    }

    /** "size=N mtime=T" of one file. */
    static String stat(Path file) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return "size=" + a.size() + " mtime=" + a.lastModifiedTime().toMillis();
    }

    /** SHA-256 over each file's path (relative to base when under it), size and mtime, in list order. */
    static String files(Path base, List<Path> files) throws IOException {
        MessageDigest md = sha256();
        Path abs = base.toAbsolutePath().normalize();
        for (Path f : files) {
            Path p = f.toAbsolutePath().normalize();
            String name = p.startsWith(abs) ? abs.relativize(p).toString() : p.toString();
            md.update((name + " " + stat(f) + "\n").getBytes(StandardCharsets.UTF_8));
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** A short hash of the class names, which give the labels their meaning. */
    static String classes(List<String> names) {
        return sha256(String.join("\n", names)).substring(0, 16);
    }

    /** The file name without its extension: "chestmnist_224" for chestmnist_224.npz. */
    static String stem(Path file) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    static Path canonical(Path p) throws IOException {
        return p.toRealPath();
    }
}
