package io.vlm4j.eval;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;

/**
 * Writes an undefined metric (NaN, ±∞) as JSON {@code null} instead of Jackson's default string "NaN", so the
 * reports stay plain JSON for any reader; the reason is in the report's notes.
 */
public final class NanAsNull extends StdSerializer<Double> {
    public NanAsNull() { super(Double.class); }

    @Override
    public void serialize(Double value, JsonGenerator gen, SerializerProvider provider) throws IOException {
        if (value == null || !Double.isFinite(value)) gen.writeNull();
        else gen.writeNumber(value);
    }
}
