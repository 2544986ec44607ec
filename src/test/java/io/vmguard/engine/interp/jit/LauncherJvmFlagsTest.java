package io.vmguard.engine.interp.jit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The launcher's compile command that sends the JIT's generated classes to C1 names them by the package and prefix
 * the compiler gives them: a renamed class would silently go back to C2.
 */
class LauncherJvmFlagsTest {
    private static final Pattern NODE_LIMIT = Pattern.compile("-XX:CompileCommand=MaxNodeLimit,([^,\"]+),1\"");

    @Test
    void theLaunchersC1OnlyCommandMatchesGeneratedClassesAndNothingOfTheInterpreter() throws Exception {
        Path launcher = Path.of(System.getProperty("user.dir"), "vmguard");
        Matcher m = NODE_LIMIT.matcher(Files.readString(launcher));
        assertTrue(m.find(), "the launcher " + launcher + " has a MaxNodeLimit compile command");
        Pattern methods = hotSpotPattern(m.group(1));
        String packagePath = RuntimeSurface.PACKAGE.replace('.', '/');
        // A hidden class's internal name: the name it was defined with, '+', an address.
        String generated = packagePath + "/" + JitCompiler.CLASS_PREFIX + "17+0x000000003a286800.run";
        assertTrue(methods.matcher(generated).matches(), m.group(1) + " matches " + generated);
        assertFalse(methods.matcher(packagePath + "/InterpVcpu.runBlock").matches(), "the interpreter stays with C2");
        assertFalse(methods.matcher(packagePath + "/JitRuntime.execute").matches(), "the JIT's runtime stays with C2");
    }

    /** HotSpot's method pattern (Class.method, '*' at either end of each part) as a regular expression. */
    private static Pattern hotSpotPattern(String pattern) {
        StringBuilder regex = new StringBuilder();
        for (char c : pattern.toCharArray()) {
            regex.append(c == '*' ? "[^.]*" : Pattern.quote(String.valueOf(c)));
        }
        return Pattern.compile(regex.toString());
    }
}
