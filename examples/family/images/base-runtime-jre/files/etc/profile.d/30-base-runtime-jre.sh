# Login shells of base-runtime-jre: shortcuts for looking into the running JVM.
# (jcmd, jstack and jmap come with a JDK, not this JRE: copy one in, or use these.)

# The Java processes of the container, with their command lines (jps needs a JDK).
javaps() { ps -o pid,user,etime,rss,args -C java; }

# A thread dump of the JVM with the given pid (default: the oldest java process) on its
# stdout, which is the container's log: `threaddump [PID]`, then read it with your log tool.
threaddump() {
    pid="${1:-$(pgrep -o java)}"
    if [ -z "$pid" ]; then echo "no java process" >&2; return 1; fi
    kill -QUIT "$pid" && echo "thread dump of $pid sent to its stdout (the container log)"
}
