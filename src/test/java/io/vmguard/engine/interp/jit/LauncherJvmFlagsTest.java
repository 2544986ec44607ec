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

    /**
     * The warm-up's commands (translations wait for their compiles on the compiler thread, HotSpot's counts scaled
     * down) name the same classes as the C1-only command, and the launcher turns the warm-up calls on with them.
     */
    @Test
    void theLaunchersWarmUpCommandsNameTheSameClassesAndTurnTheWarmUpOn() throws Exception {
        String launcher = Files.readString(Path.of(System.getProperty("user.dir"), "vmguard"));
        Matcher nodeLimit = NODE_LIMIT.matcher(launcher);
        assertTrue(nodeLimit.find());
        String classes = nodeLimit.group(1);
        assertTrue(launcher.contains("\"-XX:CompileCommand=BackgroundCompilation," + classes + ",false\""),
                "the launcher makes compiles of " + classes + " wait");
        assertTrue(launcher.contains("\"-XX:CompileCommand=CompileThresholdScaling," + classes + ",0.01\""),
                "the launcher scales HotSpot's counts for " + classes);
        Matcher warmUp = Pattern.compile("-D" + Pattern.quote(JitOptions.WARM_UP) + "=(\\d+)").matcher(launcher);
        assertTrue(warmUp.find(), "the launcher sets " + JitOptions.WARM_UP);
        assertTrue(Integer.parseInt(warmUp.group(1)) > 0);
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
