package io.vlm4j.text;

import java.util.Arrays;

/**
 * A trie over byte strings with an int value per key (SentencePiece's pieces and user-defined symbols), walked one
 * byte at a time from {@link #ROOT}. Nodes are kept as first-child / next-sibling arrays, the root's children in a
 * 256-entry table. Immutable after {@link #build}.
 */
final class ByteTrie {
    static final int ROOT = 0;

    private final int[] rootChild = new int[256];
    private int[] firstChild, sibling, value;
    private byte[] label;
    private int size;

    private ByteTrie(int capacity) {
        Arrays.fill(rootChild, -1);
        firstChild = new int[capacity];
        sibling = new int[capacity];
        value = new int[capacity];
        label = new byte[capacity];
        size = 1;
        firstChild[ROOT] = -1;
        value[ROOT] = -1;
    }

    /** keys[i] → values[i]; a key that appears twice keeps its first value. */
    static ByteTrie build(byte[][] keys, int[] values) {
        int total = 1;
        for (byte[] k : keys) total += k.length;
        ByteTrie t = new ByteTrie(Math.max(total, 1));
        for (int i = 0; i < keys.length; i++) {
            int node = ROOT;
            for (byte b : keys[i]) {
                int next = t.child(node, b & 0xFF);
                node = next >= 0 ? next : t.add(node, b);
            }
            if (node != ROOT && t.value[node] < 0) t.value[node] = values[i];
        }
        t.firstChild = Arrays.copyOf(t.firstChild, t.size);
        t.sibling = Arrays.copyOf(t.sibling, t.size);
        t.value = Arrays.copyOf(t.value, t.size);
        t.label = Arrays.copyOf(t.label, t.size);
        return t;
    }

    private int add(int parent, byte b) {
        int n = size++;
        label[n] = b;
        value[n] = -1;
        firstChild[n] = -1;
        if (parent == ROOT) {
            sibling[n] = -1;
            rootChild[b & 0xFF] = n;
        } else {
            sibling[n] = firstChild[parent];
            firstChild[parent] = n;
        }
        return n;
    }

    /** The node reached from {@code node} by byte {@code b} (0-255), or -1. */
    int child(int node, int b) {
        if (node == ROOT) return rootChild[b];
        for (int c = firstChild[node]; c >= 0; c = sibling[c]) if ((label[c] & 0xFF) == b) return c;
        return -1;
    }

    /** The value of the key ending at {@code node}, or -1 when no key ends there. */
    int value(int node) {
        return value[node];
    }

    /** The byte length of the longest key that is a prefix of {@code in[pos..]}, 0 if none. */
    int longestPrefix(byte[] in, int pos) {
        int best = 0;
        for (int node = ROOT, i = pos; i < in.length; i++) {
            node = child(node, in[i] & 0xFF);
            if (node < 0) break;
            if (value[node] >= 0) best = i + 1 - pos;
        }
        return best;
    }
}
