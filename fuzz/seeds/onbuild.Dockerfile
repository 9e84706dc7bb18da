FROM node:20
ONBUILD COPY --from=builder package.json /app/
ONBUILD RUN npm install
onbuild add . /app
ONBUILD RUN <<EOF
echo from heredoc
EOF
ONBUILD FOO unknown trigger
