FROM alpine
RUN <<EOF
echo "hello $USER"
apk add curl
EOF
RUN <<-EOT
	echo indented
		echo twice
	EOT
RUN python3 <<PY
print("stdin heredoc")
PY
RUN <<EOF
#!/usr/bin/env python3
print("a script with a shebang")
EOF
RUN cat <<A > /a && cat <<'B' > /b
first $HOME
A
second $HOME
B
COPY <<EOF /etc/greeting
hello $NAME
EOF
COPY <<"QUOTED" <<-TABS /dir/
literal $NAME
QUOTED
	tabs $NAME
	TABS
ADD --chmod=600 <<EOF /root/.netrc
machine example.com
EOF
RUN 3<<EOF cat <&3
fd three
EOF
RUN << SPACED
spaced marker
SPACED
RUN ["echo", "<<NOTHEREDOC"]
